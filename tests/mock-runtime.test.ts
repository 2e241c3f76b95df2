import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { buildPlan, renderPlanText } from "../lib/plan/render";
import { runProgram } from "../lib/plan/run-program";

class Thing extends pulumi.CustomResource {
  constructor(name: string, props: pulumi.Inputs, opts: pulumi.CustomResourceOptions) {
    super("test:index:Thing", name, props, opts);
  }
}

// One scenario in this file: a tiny program with a component, a child, a secret input and an unknown.
class Parent extends pulumi.ComponentResource {
  constructor(name: string) {
    super("test:index:Parent", name, {}, {});
    const first = new Thing(
      `${name}-first`,
      { plain: "visible", password: pulumi.secret("hunter2"), nested: { token: pulumi.secret("t0ken") } },
      { parent: this },
    );
    new Thing(`${name}-second`, { fromFirst: first.id }, { parent: this });
    this.registerOutputs({});
  }
}

describe("mock runtime harness", () => {
  it("records each resource with its inputs and parent, and the plan hides secrets and unknowns", async () => {
    const run = await runProgram({ stack: "harness", config: {}, preview: true }, async () => {
      new Parent("p");
      return { secretOutput: pulumi.secret("s3cret") };
    });
    const byName = new Map(run.resources.map((resource) => [resource.name, resource]));
    expect([...byName.keys()]).toEqual(["spectral-infra-harness", "p", "p-first", "p-second"]);
    expect(byName.get("p")?.parent).toBe(byName.get("spectral-infra-harness")?.urn);
    expect(byName.get("p-first")?.parent).toBe(byName.get("p")?.urn);
    expect(byName.get("p-first")?.custom).toBe(true);
    expect(byName.get("p")?.custom).toBe(false);

    const plan = buildPlan("spectral-infra", "harness", run);
    expect(plan.resources.find((resource) => resource.name === "p-first")).toEqual({
      type: "test:index:Thing",
      name: "p-first",
      parent: "test:index:Parent::p",
      // Pulumi marks the whole object secret when any value inside it is.
      inputs: { nested: "[secret]", password: "[secret]", plain: "visible" },
    });
    // In preview an id is unknown until the resource exists.
    expect(plan.resources.find((resource) => resource.name === "p-second")?.inputs).toEqual({
      fromFirst: "[unknown]",
    });
    expect(plan.outputs).toEqual({ secretOutput: "[secret]" });
    expect(plan.summary).toEqual({
      total: 4,
      byType: { "pulumi:pulumi:Stack": 1, "test:index:Parent": 1, "test:index:Thing": 2 },
    });
    const text = renderPlanText(plan);
    for (const secret of ["hunter2", "t0ken", "s3cret"]) expect(text).not.toContain(secret);
    expect(text).toContain("└─ test:index:Parent  p");
    expect(text).toContain("   ├─ test:index:Thing  p-first");
    expect(text).toContain("   └─ test:index:Thing  p-second");
  });
});
