// The knowledge bases page: its own sub-routes under /knowledge/* (list, one knowledge base, one document's chunks).
import { Route, Routes } from "react-router";

import "./knowledge.css";
import DatasetList from "./DatasetList";
import DatasetPage from "./DatasetPage";
import SegmentsPage from "./Segments";

export default function KnowledgePage() {
  return (
    <Routes>
      <Route index element={<DatasetList />} />
      <Route path=":datasetId" element={<DatasetPage />} />
      <Route path=":datasetId/documents/:documentId" element={<SegmentsPage />} />
    </Routes>
  );
}
