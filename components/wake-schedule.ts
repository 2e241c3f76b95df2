import * as cloudflare from "@pulumi/cloudflare";
import * as pulumi from "@pulumi/pulumi";

/** Every minute: each instance is woken, and a new generation reaches running containers. */
export const WAKE_SCHEDULE = "* * * * *";

export interface WakeScheduleArgs {
  /** Cloudflare account that owns the Worker. */
  accountId: string;
  /** The Worker whose `scheduled` handler wakes every instance. */
  workerName: string;
  /** The container application: a wake starts its containers, so the cron is made only once it exists. */
  application: pulumi.Resource;
  /** The component that held the cron before it moved here: the alias keeps it, with no replace. */
  formerParent: pulumi.Resource;
}

/**
 * The cron trigger that keeps every instance awake and cut over: the app runs with nobody calling it. It
 * is created after the container application, as wrangler orders its deploy (the application, then the
 * triggers): a tick before the application exists would start containers that have nowhere to run.
 */
export class WakeSchedule extends pulumi.ComponentResource {
  constructor(name: string, args: WakeScheduleArgs, opts?: pulumi.ComponentResourceOptions) {
    super("spectral:cloudflare:WakeSchedule", name, {}, opts);
    new cloudflare.WorkersCronTrigger(
      name,
      { accountId: args.accountId, scriptName: args.workerName, schedules: [{ cron: WAKE_SCHEDULE }] },
      { parent: this, dependsOn: [args.application], aliases: [{ name, parent: args.formerParent }] },
    );
    this.registerOutputs({});
  }
}
