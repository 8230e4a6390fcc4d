/**
 * Live facilitation at a terminal, with @inquirer/prompts: attendance, then each inject's
 * situation and questions, each checklist item marked done / partial / missed, the P/S/M/U
 * ratings and the hot wash. Ctrl+C inside a prompt pauses the session (the engine keeps
 * every answer already given in the journal; `run --resume` continues).
 */
import { checkbox, input, select } from '@inquirer/prompts';
import type { Context } from '@inquirer/type';
import type { Facilitator, Improvement, InjectDef, ItemAnswer, ItemDef, ObjectiveDef, RatingAnswer, StepAnswer, StepDef } from '../runners/exercise/facilitator.js';
import { SessionPaused } from '../runners/exercise/facilitator.js';
import { DURATION_PATTERN } from '../scenarios/schema.js';

const RATINGS = [
  { value: 'P', name: 'P — performed without challenges' },
  { value: 'S', name: 'S — performed with some challenges' },
  { value: 'M', name: 'M — performed with major challenges' },
  { value: 'U', name: 'U — unable to be performed' },
] as const;

const optionalDuration = (value: string) => value.trim() === '' || DURATION_PATTERN.test(value.trim()) || 'a duration such as 90s, 12m or 1h30m (or leave it blank)';

export class TerminalFacilitator implements Facilitator {
  readonly mode = 'live' as const;
  private readonly context: Context;
  constructor(
    private readonly operator: string,
    streams: { input?: NodeJS.ReadableStream; output?: NodeJS.WritableStream } = {},
  ) {
    this.context = { ...streams, clearPromptOnDone: false };
  }

  private get output(): NodeJS.WritableStream {
    return this.context.output ?? process.stdout;
  }

  private async ask<T>(prompt: Promise<T>): Promise<T> {
    try {
      return await prompt;
    } catch (error) {
      if (error instanceof Error && (error.name === 'ExitPromptError' || error.name === 'AbortPromptError')) throw new SessionPaused();
      throw error;
    }
  }

  private text(message: string, opts: { required?: boolean; default?: string; validate?: (v: string) => boolean | string } = {}): Promise<string> {
    return this.ask(
      input(
        {
          message,
          ...(opts.default ? { default: opts.default } : {}),
          required: opts.required ?? false,
          ...(opts.validate ? { validate: opts.validate } : {}),
        },
        this.context,
      ),
    ).then((v) => v.trim());
  }

  say(text: string): void {
    this.output.write(`${text}\n`);
  }

  facilitatorName(): Promise<string> {
    return this.text('Facilitator', { required: true, default: this.operator });
  }

  async attendance(participants: { name: string; role: string }[]): Promise<Record<string, boolean>> {
    this.say('\nAttendance');
    const present = await this.ask(
      checkbox(
        {
          message: 'Who is present? (space toggles, enter confirms)',
          choices: participants.map((p) => ({ value: p.name, name: `${p.name} (${p.role})`, checked: true })),
        },
        this.context,
      ),
    );
    return Object.fromEntries(participants.map((p) => [p.name, present.includes(p.name)]));
  }

  async inject(inject: InjectDef, context: { module: string; unavailableRoles: Map<string, string> }): Promise<string | undefined> {
    this.say(`\n━━ ${context.module} · T+${inject.at} · ${inject.title}`);
    if (inject.keyPersonUnavailable) this.say(`⚠ KEY PERSON UNAVAILABLE: the ${inject.keyPersonUnavailable.role} role is out for the rest of the exercise${inject.keyPersonUnavailable.reason ? ` (${inject.keyPersonUnavailable.reason})` : ''}`);
    this.say(inject.situation.trim());
    if (inject.questions.length > 0) {
      this.say('Discussion questions:');
      for (const q of inject.questions) this.say(`  • ${q}`);
    }
    const notes = await this.text('Discussion notes (optional)');
    return notes === '' ? undefined : notes;
  }

  async item(inject: InjectDef, item: ItemDef, context: { unavailableSince: string | undefined }): Promise<ItemAnswer> {
    const status = await this.ask(
      select(
        {
          message: `[${item.role}] ${item.action}${item.timeLimit ? ` (within ${item.timeLimit})` : ''}`,
          choices: [
            { value: 'done' as const, name: 'done' },
            { value: 'partial' as const, name: 'partial' },
            { value: 'missed' as const, name: 'missed' },
          ],
        },
        this.context,
      ),
    );
    const answer: ItemAnswer = { status };
    if (context.unavailableSince) {
      answer.coveredBy = await this.text(`The ${item.role} role is unavailable: who covered this?`, {
        required: true,
        validate: (v) => (v.trim() === item.role ? `the ${item.role} role is unavailable` : v.trim() !== '' || 'say who covered it'),
      });
    }
    if (item.timeLimit) {
      const took = await this.text('Time the team took (e.g. 12m; blank if not timed)', { validate: optionalDuration });
      if (took) answer.took = took;
    }
    const note = await this.text('Note (optional)');
    if (note) answer.note = note;
    return answer;
  }

  async rating(objective: ObjectiveDef): Promise<RatingAnswer> {
    const rating = await this.ask(select({ message: `Rate objective "${objective.text}"`, choices: RATINGS.map((r) => ({ value: r.value, name: r.name })) }, this.context));
    const note = await this.text('Why (optional)');
    return note ? { rating, note } : { rating };
  }

  async strengths(): Promise<string[]> {
    this.say('\nHot wash');
    const strengths: string[] = [];
    for (;;) {
      const s = await this.text('Strength (blank to finish)');
      if (!s) return strengths;
      strengths.push(s);
    }
  }

  async improvements(): Promise<Improvement[]> {
    const improvements: Improvement[] = [];
    for (;;) {
      const observation = await this.text('Area for improvement (blank to finish)');
      if (!observation) return improvements;
      const improvement: Improvement = { observation };
      const action = await this.text('Corrective action (optional)');
      if (action) improvement.correctiveAction = action;
      const owner = await this.text('Owner (optional; default the system owner)');
      if (owner) improvement.owner = owner;
      improvements.push(improvement);
    }
  }

  async manualStep(step: StepDef): Promise<StepAnswer> {
    this.say(`Manual action [${step.owner}]: ${step.manual}`);
    const status = await this.ask(
      select(
        { message: 'When it is done, confirm:', choices: [{ value: 'done' as const, name: 'done' }, { value: 'failed' as const, name: 'failed' }] },
        this.context,
      ),
    );
    const note = await this.text(status === 'failed' ? 'What went wrong?' : 'Note (optional)', { required: status === 'failed' });
    return note ? { status, note } : { status };
  }
}
