"""Documents made on the spot for parser and knowledge-base tests: PDFs (fpdf2, pypdf) and DOCX (python-docx)."""

from __future__ import annotations

from pathlib import Path

import docx
from fpdf import FPDF
from pypdf import PdfReader, PdfWriter


def make_pdf(path: Path, pages: list[list[str]], title: str | None = None) -> Path:
    pdf = FPDF()
    if title:
        pdf.set_title(title)
    pdf.set_font("Helvetica", size=12)
    for paragraphs in pages:
        pdf.add_page()
        for para in paragraphs:
            pdf.multi_cell(0, 8, para)
            pdf.ln(8)
    pdf.output(str(path))
    return path


def encrypt_pdf(source: Path, target: Path, user_password: str) -> Path:
    writer = PdfWriter(clone_from=PdfReader(source))
    writer.encrypt(user_password=user_password, owner_password="owner-secret", algorithm="RC4-128")
    writer.write(target)
    return target


def make_docx(path: Path) -> Path:
    document = docx.Document()
    document.add_heading("Field Guide", level=0)
    document.add_paragraph("An introduction before any section.")
    document.add_heading("Birds", level=1)
    document.add_paragraph("Birds have feathers.")
    document.add_heading("Owls", level=2)
    document.add_paragraph("Owls hunt at night.")
    table = document.add_table(rows=2, cols=3)
    for row, values in zip(table.rows, [("Name", "Size", "Diet"), ("Barn owl", "small", "mice")], strict=True):
        for cell, value in zip(row.cells, values, strict=True):
            cell.text = value
    document.add_heading("Fish", level=1)
    document.add_paragraph("Fish have gills.")
    document.save(str(path))
    return path
