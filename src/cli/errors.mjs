// The CLI's two kinds of failure, and their exit codes: 2 for a wrong invocation (fix the
// command), 1 for anything else (the server refused, the network failed, a job failed).

export class UsageError extends Error {
  /** @param {string} message @param {string} [command] the command whose help to point at */
  constructor(message, command) {
    super(message);
    this.name = "UsageError";
    this.command = command;
  }
}

export class CliError extends Error {
  /** @param {string} message @param {{ hint?: string, status?: number, code?: string, exitCode?: number }} [extra] */
  constructor(message, extra = {}) {
    super(message);
    this.name = "CliError";
    this.hint = extra.hint;
    this.status = extra.status;
    this.code = extra.code;
    this.exitCode = extra.exitCode ?? 1;
  }
}
