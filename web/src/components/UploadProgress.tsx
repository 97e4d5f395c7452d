import { useTranslation } from "react-i18next";

/** A file on its way up: "Uploading talk.mp4: 42%" over a bar. */
export function UploadProgress({ name, percent }: { name: string; percent: number }) {
  const { t } = useTranslation("common");
  const label = t("uploading", { name, percent });
  return (
    <div className="notice small upload-progress" role="status">
      <span>{label}</span>
      <div
        className="progress"
        role="progressbar"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={percent}
        data-testid="upload-progress"
      >
        <span style={{ width: `${percent}%` }} />
      </div>
    </div>
  );
}
