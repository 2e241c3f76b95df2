import { servePage } from "@spectral/page-server";
import manifest from "./package.json" with { type: "json" };

servePage({ name: "dashboard", title: "Spectral dashboard", version: manifest.version }, 3000);
