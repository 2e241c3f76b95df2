// What every dynamic provider decides the same way about the runs after the first: which inputs changed,
// and whether an object this resource is about to delete is now held by another resource of the program.

/** The dynamic-provider host's serialized provider code: what our code is, never what is deployed. */
const PROVIDER_KEY = "__provider";
/** How the engine passes a value it does not know yet (a preview of a resource that is being updated). */
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/**
 * The keys of olds and news that differ, without `__provider` and the `ignored` ones (outputs, and how
 * calls are made). A key whose new value is unknown is listed in `unknown`, not in `changed`: whether it
 * changes is decided in the up, where it is known, so a preview never claims more than the up does.
 */
function changedInputs(olds, news, ignored = []) {
  const skip = new Set([PROVIDER_KEY, ...ignored]);
  const keys = [...new Set([...Object.keys(olds), ...Object.keys(news)])].filter((key) => !skip.has(key));
  const changed = [];
  const unknown = [];
  for (const key of keys) {
    if (JSON.stringify(news[key]) === JSON.stringify(olds[key])) continue;
    (JSON.stringify(news[key])?.includes(UNKNOWN) ? unknown : changed).push(key);
  }
  return { changed, unknown };
}

// Objects the running program declares, in this provider host (one process per run serves every dynamic
// resource). The engine deletes resources that left the program only after the program has declared all
// of its own, so a delete can tell whether the same object is now another resource's.
const DECLARED = Symbol.for("spectral.declaredObjects");
const declared = () => {
  globalThis[DECLARED] ??= new Set();
  return globalThis[DECLARED];
};

/** Records that a resource of the running program holds `object` ("worker <account>/<name>"). */
function declareObject(object) {
  declared().add(object);
}

/** Whether a resource of the running program holds `object`: then a delete of an old one must leave it. */
function declaredByProgram(object) {
  return declared().has(object);
}

/** Forgets every declaration: a run's end, for callers that run several runs in one process (tests). */
function forgetDeclaredObjects() {
  declared().clear();
}

module.exports = {
  UNKNOWN,
  changedInputs,
  declareObject,
  declaredByProgram,
  forgetDeclaredObjects,
};
