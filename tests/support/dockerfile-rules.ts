/**
 * The ADR-049 D2/D3/D5/D6 rules for infra/docker/*.Dockerfile, as checks over dockerfile-ast's parse.
 * Each rule returns its problems (empty when the Dockerfile conforms), so a test can name the rule and
 * show exactly what broke.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type Copy, DockerfileParser, type From, type Instruction } from "dockerfile-ast";

export const DOCKERFILE_DIR = "infra/docker";

const BASES = {
  python: "python:3.14-slim-trixie",
  node: "node:24-trixie-slim",
} as const;
const UV_IMAGE = "ghcr.io/astral-sh/uv";
const DIGEST = /^sha256:[0-9a-f]{64}$/;
const SPECTRAL = ["spectral:spectral", "1000:1000"];
const SECRET_NAME = /SECRET|TOKEN|PASSWORD|PASSWD|API_?KEY|PRIVATE|CREDENTIAL|DATABASE_URL/i;
const SECRET_SOURCE = /(^|\/)(\.env(\..*)?|.*\.(pem|key|p12)|id_(rsa|ed25519)|\.npmrc|\.netrc)$/i;

export type Family = keyof typeof BASES;

export interface Stage {
  from: From;
  name: string | null;
  instructions: Instruction[];
}

export interface ParsedDockerfile {
  file: string;
  text: string;
  family: Family;
  stages: Stage[];
  /** Comment lines before the first FROM. */
  header: string[];
  /** Parser directives such as `# syntax=`. */
  directives: string[];
  instructions: Instruction[];
}

export interface Rule {
  id: string;
  title: string;
  check(dockerfile: ParsedDockerfile): string[];
}

export function dockerfileNames(repoRoot: string): string[] {
  return readdirSync(join(repoRoot, DOCKERFILE_DIR))
    .filter((name) => name.endsWith(".Dockerfile"))
    .sort();
}

export function parseDockerfile(file: string, text: string): ParsedDockerfile {
  const dockerfile = DockerfileParser.parse(text);
  const instructions = dockerfile.getInstructions();
  const stages: Stage[] = [];
  for (const instruction of instructions) {
    if (instruction.getKeyword() === "FROM") {
      const from = instruction as From;
      stages.push({ from, name: from.getBuildStage(), instructions: [] });
    } else {
      stages.at(-1)?.instructions.push(instruction);
    }
  }
  const firstFromLine = stages[0]?.from.getRange().start.line ?? Number.POSITIVE_INFINITY;
  const runtimeImage = stages.at(-1)?.from.getImageName() ?? "";
  return {
    file,
    text,
    family: runtimeImage.includes("node") ? "node" : "python",
    stages,
    header: dockerfile
      .getComments()
      .filter((comment) => comment.getRange().start.line < firstFromLine)
      .map((comment) => comment.getContent()),
    directives: dockerfile.getDirectives().map((directive) => directive.getName()),
    instructions,
  };
}

export function readDockerfile(repoRoot: string, name: string): ParsedDockerfile {
  return parseDockerfile(name, readFileSync(join(repoRoot, DOCKERFILE_DIR, name), "utf8"));
}

/**
 * The app image, whose PID 1 is app_supervisor.py: each scope runs as its own user (api 1001, workers 1002,
 * both in spectral 1000), PID 1 starts as root and drops, and everything they run is root's. Where that
 * conflicts with ADR-049 D3 ("spectral owns /app"), the scopes' boundaries win (README, #21).
 */
const scoped = (dockerfile: ParsedDockerfile) =>
  ofKeyword(runtimeOf(dockerfile)?.instructions ?? [], "CMD").some((cmd) =>
    args(cmd).join(" ").includes("app_supervisor.py"),
  );

const stageNamed = (dockerfile: ParsedDockerfile, name: string) =>
  dockerfile.stages.find((stage) => stage.name === name);
const runtimeOf = (dockerfile: ParsedDockerfile) => dockerfile.stages.at(-1);
const ofKeyword = (instructions: Instruction[], keyword: string) =>
  instructions.filter((instruction) => instruction.getKeyword() === keyword);
const flag = (instruction: Instruction, name: string) =>
  "getFlags" in instruction
    ? (instruction as Copy)
        .getFlags()
        .filter((candidate) => candidate.getName() === name)
        .map((candidate) => candidate.getValue() ?? "")
    : [];
const args = (instruction: Instruction) => instruction.getArguments().map((argument) => argument.getValue());
const at = (instruction: Instruction) => `line ${instruction.getRange().start.line + 1}`;
/** A RUN's shell text with line continuations joined. */
const script = (instruction: Instruction) => (instruction.getArgumentsContent() ?? "").replace(/\\\n/g, " ");
/** The base image of a FROM, without its digest. */
const baseOf = (from: From) => `${from.getImageName()}:${from.getImageTag()}`;
const envNames = (stage: Stage) =>
  new Map(
    ofKeyword(stage.instructions, "ENV").flatMap((env) =>
      args(env)
        .map((pair) => pair.split("="))
        .map(([name, ...value]): [string, string] => [name, value.join("=")]),
    ),
  );
const installsDependencies = (instruction: Instruction) =>
  instruction.getKeyword() === "RUN" &&
  /\buv sync\b|\bpnpm (fetch|install|deploy)\b/.test(script(instruction));
const installCommand = { python: /\buv sync\b/, node: /\bpnpm (fetch|install|deploy)\b/ } as const;
const storeCache = { python: "/root/.cache/uv", node: "/pnpm/store" } as const;
const lockfile = { python: "uv.lock", node: "pnpm-lock.yaml" } as const;
const sourceDirectory = {
  python: /reference-app\/python\/src/,
  node: /reference-app\/(?!python)[^/\s]+\/?$/,
};

/** Every path a Dockerfile reads from its build context: COPY sources and RUN bind-mount sources. */
export function contextSources(dockerfile: ParsedDockerfile): string[] {
  return dockerfile.instructions.flatMap((instruction) => {
    if (instruction.getKeyword() === "COPY" && flag(instruction, "from").length === 0)
      return args(instruction).slice(0, -1);
    return flag(instruction, "mount")
      .map((mount) => /(?:^|,)type=bind(?:,|$)/.test(mount) && /(?:^|,)source=([^,]+)/.exec(mount)?.[1])
      .filter((source): source is string => Boolean(source));
  });
}

export const RULES: Rule[] = [
  {
    id: "literal-digest-pins",
    title: "every FROM names a literal image:tag pinned by sha256 digest (Dependabot can update it)",
    check: (dockerfile) =>
      dockerfile.stages.flatMap(({ from }) => {
        const image = from.getImage() ?? "";
        if (from.getVariables().length > 0) return [`${at(from)}: FROM uses a variable: ${image}`];
        if (!from.getImageTag()) return [`${at(from)}: ${image} has no tag`];
        return DIGEST.test(from.getImageDigest() ?? "")
          ? []
          : [`${at(from)}: ${image} is not pinned by digest`];
      }),
  },
  {
    id: "official-bases",
    title:
      "Python images use python:3.14-slim-trixie and Node images node:24-trixie-slim (the official spelling)",
    check: (dockerfile) =>
      dockerfile.stages
        .filter((stage) => stage.name !== "uv")
        .map((stage) => stage.from)
        .filter((from) => baseOf(from) !== BASES[dockerfile.family])
        .map((from) => `${at(from)}: ${baseOf(from)} is not ${BASES[dockerfile.family]}`),
  },
  {
    id: "pin-date-noted",
    title: "a comment before the first FROM dates the digest pins",
    check: (dockerfile) =>
      dockerfile.header.some((line) => /\b20\d\d-\d\d-\d\d\b/.test(line) && /digest/i.test(line))
        ? []
        : ["no comment before the first FROM says when the digests were taken (YYYY-MM-DD)"],
  },
  {
    id: "builder-runtime-identical-from",
    title: "two stages, builder then runtime, FROM the identical base",
    check: (dockerfile) => {
      const builder = stageNamed(dockerfile, "builder");
      const runtime = runtimeOf(dockerfile);
      if (!builder || runtime?.name !== "runtime") return ["needs a builder stage and a final runtime stage"];
      const extra = dockerfile.stages.filter(
        (stage) => !["uv", "builder", "runtime"].includes(stage.name ?? ""),
      );
      return [
        ...extra.map((stage) => `${at(stage.from)}: unexpected stage ${stage.name ?? "(unnamed)"}`),
        ...(builder.from.getImage() === runtime.from.getImage()
          ? []
          : [`builder FROM ${builder.from.getImage()} differs from runtime FROM ${runtime.from.getImage()}`]),
      ];
    },
  },
  {
    id: "uv-own-stage",
    title: "uv comes from its own digest-pinned stage, and COPY --from names stages only",
    check: (dockerfile) => {
      const copiesFrom = dockerfile.instructions
        .filter((instruction) => instruction.getKeyword() === "COPY")
        .flatMap((copy) => flag(copy, "from").map((source) => ({ copy, source })));
      const stageNames = new Set(dockerfile.stages.map((stage) => stage.name));
      const problems = copiesFrom
        .filter(({ source }) => !stageNames.has(source))
        .map(({ copy, source }) => `${at(copy)}: COPY --from=${source} is not a stage of this file`);
      if (dockerfile.family === "python") {
        const uv = stageNamed(dockerfile, "uv");
        if (!uv?.from.getImage()?.startsWith(`${UV_IMAGE}:`)) problems.push(`no stage "uv" FROM ${UV_IMAGE}`);
      }
      return problems;
    },
  },
  {
    id: "platform-linux-amd64",
    title: "every stage is linux/amd64 (the only platform Cloudflare Containers run)",
    check: (dockerfile) =>
      dockerfile.stages
        .filter(({ from }) => from.getPlatformFlag()?.getValue() !== "linux/amd64")
        .map(({ from }) => `${at(from)}: FROM lacks --platform=linux/amd64`),
  },
  {
    id: "user-spectral-1000",
    title:
      "the runtime runs as spectral, UID/GID 1000 (the Node images rename their node user); the app image's PID 1 starts as root and runs api as 1001 and workers as 1002, both in group spectral",
    check: (dockerfile) => {
      const runtime = runtimeOf(dockerfile);
      if (!runtime) return ["no runtime stage"];
      const runs = ofKeyword(runtime.instructions, "RUN").map(script).join("\n");
      const users = ofKeyword(runtime.instructions, "USER");
      const finalUser = users.length ? args(users[users.length - 1]).join(" ") : "root";
      if (scoped(dockerfile))
        return [
          ...[
            /groupadd --gid 1000 spectral\b/,
            /useradd --uid 1001 --gid spectral-api --groups spectral\b.* spectral-api\b/,
            /useradd --uid 1002 --gid spectral-workers --groups spectral\b.* spectral-workers\b/,
          ]
            .filter((pattern) => !pattern.test(runs))
            .map((pattern) => `the app image does not create what ${pattern.source} describes`),
          ...(["root", "0", "0:0"].includes(finalUser)
            ? []
            : [`the app image's final USER is ${finalUser}: PID 1 must start as root`]),
        ];
      const creates =
        dockerfile.family === "node"
          ? /groupmod --new-name spectral node/.test(runs) && /usermod --login spectral\b.* node\b/.test(runs)
          : /groupadd --gid 1000 spectral/.test(runs) &&
            /useradd --uid 1000 --gid spectral\b.* spectral\b/.test(runs);
      return [
        ...(creates ? [] : ["the runtime does not create (or rename to) user spectral with UID/GID 1000"]),
        ...(SPECTRAL.includes(finalUser)
          ? []
          : [`the runtime's final USER is ${finalUser}, not spectral (1000:1000)`]),
      ];
    },
  },
  {
    id: "workdir-app",
    title:
      "WORKDIR /app, owned by spectral, with every runtime COPY chowned to spectral; in the app image /app and every COPY stay root's",
    check: (dockerfile) => {
      const runtime = runtimeOf(dockerfile);
      if (!runtime) return ["no runtime stage"];
      const workdirs = ofKeyword(runtime.instructions, "WORKDIR").map((workdir) => args(workdir).join(" "));
      const runs = ofKeyword(runtime.instructions, "RUN").map(script).join("\n");
      if (scoped(dockerfile))
        return [
          ...(workdirs.at(-1) === "/app"
            ? []
            : [`the runtime's WORKDIR is ${workdirs.at(-1) ?? "unset"}, not /app`]),
          ...(/(install|chown|chmod)\b[^\n]*\/app\b/.test(runs)
            ? ["/app is handed to someone other than root"]
            : []),
          ...ofKeyword(runtime.instructions, "COPY")
            .filter((copy) => flag(copy, "chown").length > 0)
            .map(
              (copy) => `${at(copy)}: COPY --chown in the app image: what the services run must stay root's`,
            ),
        ];
      return [
        ...(workdirs.at(-1) === "/app"
          ? []
          : [`the runtime's WORKDIR is ${workdirs.at(-1) ?? "unset"}, not /app`]),
        ...(/install -d -o spectral -g spectral -m 0755 \/app\b/.test(runs)
          ? []
          : ["/app is not created owned by spectral"]),
        ...ofKeyword(runtime.instructions, "COPY")
          .filter((copy) => !SPECTRAL.includes(flag(copy, "chown")[0] ?? ""))
          .map((copy) => `${at(copy)}: COPY without --chown=spectral:spectral`),
      ];
    },
  },
  {
    id: "etc-spectral-0700",
    title:
      "/etc/spectral exists, owned by spectral, mode 0700; in the app image root's, group spectral, mode 0750 (no service may replace a file secret)",
    check: (dockerfile) => {
      const runs = ofKeyword(runtimeOf(dockerfile)?.instructions ?? [], "RUN")
        .map(script)
        .join("\n");
      if (scoped(dockerfile))
        return /install -d -o root -g spectral -m 0750 \/etc\/spectral\b/.test(runs)
          ? []
          : ["the app image does not create /etc/spectral as root:spectral mode 0750"];
      return /install -d -o spectral -g spectral -m 0700 \/etc\/spectral\b/.test(runs)
        ? []
        : ["the runtime does not create /etc/spectral owned by spectral with mode 0700"];
    },
  },
  {
    id: "python-env-hygiene",
    title: "Python stages set PYTHONDONTWRITEBYTECODE=1 and PYTHONUNBUFFERED=1",
    check: (dockerfile) =>
      dockerfile.family === "node"
        ? []
        : dockerfile.stages
            .filter((stage) => stage.name !== "uv")
            .flatMap((stage) => {
              const env = envNames(stage);
              return ["PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED"]
                .filter((name) => env.get(name) !== "1")
                .map((name) => `stage ${stage.name}: ${name}=1 is not set`);
            }),
  },
  {
    id: "store-cache-mounts",
    title: "every dependency install uses a BuildKit cache mount for the uv or pnpm store",
    check: (dockerfile) => {
      const installs = dockerfile.instructions.filter(
        (instruction) =>
          instruction.getKeyword() === "RUN" && installCommand[dockerfile.family].test(script(instruction)),
      );
      if (installs.length === 0) return ["no dependency install found"];
      const target = `type=cache,target=${storeCache[dockerfile.family]}`;
      return installs
        .filter(
          (run) =>
            !flag(run, "mount").some(
              (mount) =>
                mount.includes("type=cache") && mount.includes(`target=${storeCache[dockerfile.family]}`),
            ),
        )
        .map((run) => `${at(run)}: the install has no --mount=${target}`);
    },
  },
  {
    id: "layer-order",
    title: "layer order in the builder: lockfile, then install, then source",
    check: (dockerfile) => {
      const builder = stageNamed(dockerfile, "builder");
      if (!builder) return ["no builder stage"];
      const steps = builder.instructions;
      const firstInstall = steps.findIndex(installsDependencies);
      const firstSource = steps.findIndex(
        (step) =>
          step.getKeyword() === "COPY" &&
          args(step).some((source) => sourceDirectory[dockerfile.family].test(source)),
      );
      const lock = lockfile[dockerfile.family];
      const lockBeforeInstall = steps
        .slice(0, firstInstall + 1)
        .some(
          (step) =>
            args(step).some((argument) => argument.endsWith(lock)) ||
            flag(step, "mount").some((mount) => mount.includes(lock)),
        );
      if (firstInstall < 0) return ["the builder installs no dependencies"];
      return [
        ...(lockBeforeInstall ? [] : [`${lock} is not in place before the first install`]),
        ...(firstSource < 0 ? ["the builder copies no source"] : []),
        ...(firstSource >= 0 && firstSource < firstInstall
          ? [`${at(steps[firstSource])}: source is copied before the dependency install`]
          : []),
      ];
    },
  },
  {
    id: "version-json",
    title: "the runtime COPYs version.json to /app/version.json (D5)",
    check: (dockerfile) =>
      ofKeyword(runtimeOf(dockerfile)?.instructions ?? [], "COPY").some((copy) => {
        const [source, destination] = args(copy);
        return (
          source === "infra/docker/version.json" &&
          ["./version.json", "/app/version.json"].includes(destination)
        );
      })
        ? []
        : ["the runtime does not COPY infra/docker/version.json to /app/version.json"],
  },
  {
    id: "no-healthcheck",
    title: "no HEALTHCHECK (it lives in the Cloudflare deploy config)",
    check: (dockerfile) =>
      ofKeyword(dockerfile.instructions, "HEALTHCHECK").map((check) => `${at(check)}: HEALTHCHECK`),
  },
  {
    id: "no-tini",
    title: "no tini (the supervisor, uvicorn and node handle SIGTERM)",
    check: (dockerfile) =>
      dockerfile.instructions
        .filter((instruction) => /\btini\b/.test(instruction.getArgumentsContent() ?? ""))
        .map((instruction) => `${at(instruction)}: mentions tini`),
  },
  {
    id: "no-build-secrets",
    title: "no secret in any ARG, ENV, COPY or RUN (build is public, runtime is secret)",
    check: (dockerfile) =>
      dockerfile.instructions.flatMap((instruction) => {
        const keyword = instruction.getKeyword();
        if (keyword === "ARG")
          return [
            `${at(instruction)}: ARG ${args(instruction).join(" ")} (build args show in docker history)`,
          ];
        if (keyword === "ENV")
          return args(instruction)
            .map((pair) => pair.split("=")[0])
            .filter((name) => SECRET_NAME.test(name))
            .map((name) => `${at(instruction)}: ENV ${name} looks like a secret`);
        if (keyword === "COPY" || keyword === "ADD")
          return args(instruction)
            .slice(0, -1)
            .filter((source) => SECRET_SOURCE.test(source))
            .map((source) => `${at(instruction)}: ${keyword} ${source} copies a secret file`);
        if (keyword === "RUN")
          return flag(instruction, "mount")
            .filter((mount) => /type=(secret|ssh)/.test(mount))
            .map((mount) => `${at(instruction)}: RUN --mount=${mount} is an authenticated build step`);
        return [];
      }),
  },
  {
    id: "debian-buildkit-only",
    title: "no # syntax= image and no BuildKit feature newer than Debian's Docker engine (20.10) understands",
    check: (dockerfile) => [
      ...dockerfile.directives
        .filter((name) => name === "syntax")
        .map(() => "a # syntax= directive needs a registry"),
      ...dockerfile.instructions.flatMap((instruction) => {
        const flags = (instruction as Copy).getFlags?.() ?? [];
        const newer = flags
          .map((each) => each.getName())
          .filter((name) =>
            ["link", "chmod", "checksum", "network", "security", "parents", "exclude"].includes(name),
          );
        const heredoc = /<<-?["']?[A-Za-z_]+/.test(instruction.getArgumentsContent() ?? "")
          ? ["heredoc"]
          : [];
        return [...newer, ...heredoc].map(
          (feature) => `${at(instruction)}: ${feature} needs a newer Dockerfile frontend`,
        );
      }),
    ],
  },
];
