/** Figures of a deployment: what each process reports of itself, and their sums. */

/** What one process reports of itself, for figures that cover every process. */
export interface ProcessFigures {
  held: { longpoll: number; stream: number; total: number };
  published: number;
  delivered: number;
}

/** The sums of the reports of every live process. */
export interface DeploymentTotals extends ProcessFigures {
  processes: number;
}

/** The capability of a store that gathers figures from every process sharing it. */
export interface DeploymentFigures {
  /** Sets where this process's own figures come from; the store shares them with the others. */
  report(figures: () => ProcessFigures): void;
  /**
   * The sums over every process: the others' last reports plus this one's own, fresh.
   * Undefined until the store has heard the others' sums once.
   */
  totals(): DeploymentTotals | undefined;
}

export const NO_FIGURES: ProcessFigures = { held: { longpoll: 0, stream: 0, total: 0 }, published: 0, delivered: 0 };

/** The sums of `reports`: one process each, or as many as a report that is itself a sum. */
export function sumFigures(reports: Iterable<ProcessFigures | DeploymentTotals>): DeploymentTotals {
  const sum: DeploymentTotals = { processes: 0, held: { longpoll: 0, stream: 0, total: 0 }, published: 0, delivered: 0 };
  for (const figures of reports) {
    sum.processes += 'processes' in figures ? figures.processes : 1;
    sum.held.longpoll += figures.held.longpoll;
    sum.held.stream += figures.held.stream;
    sum.held.total += figures.held.total;
    sum.published += figures.published;
    sum.delivered += figures.delivered;
  }
  return sum;
}
