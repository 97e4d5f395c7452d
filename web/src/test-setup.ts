import "@testing-library/jest-dom/vitest";
import { cleanup, configure } from "@testing-library/react";
import { afterEach } from "vitest";

// findBy*/waitFor wait up to 5 s (1 s by default): on a busy 2-core CI machine a render can take longer than 1 s.
configure({ asyncUtilTimeout: 5000 });
afterEach(() => cleanup());
