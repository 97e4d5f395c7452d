// Fails when the committed generated client differs from a fresh generation: `npm run gen:api` fixes it.
import { readFileSync } from "node:fs";

const [committed, fresh] = process.argv.slice(2);
if (readFileSync(committed, "utf8") !== readFileSync(fresh, "utf8")) {
  console.error(`${committed} is out of date with openapi.json: run \`npm run gen:api\` in web/ and commit it`);
  process.exit(1);
}
