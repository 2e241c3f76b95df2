import { servePage } from "@spectral/page-server";
import manifest from "./package.json" with { type: "json" };

servePage({ name: "operations", title: "Spectral operations", version: manifest.version }, 3001);
