/**
 * `drillbook completion bash|zsh`: shell completion generated from the command tree itself,
 * so a new command or option completes without anyone editing a script. zsh loads the same
 * function through its bashcompinit layer.
 */
import type { Command } from 'commander';
import { allCommands, commandPath } from './help.js';

function words(command: Command): string[] {
  const subcommands = command.commands.map((c) => c.name());
  const options = command.options.flatMap((o) => [o.long, o.short].filter((f): f is string => Boolean(f)));
  return [...subcommands, ...options, '--help'];
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export function bashCompletion(program: Command): string {
  const cases = allCommands(program)
    .map((c) => {
      const key = c === program ? '' : commandPath(c);
      return `    ${quote(key)}) opts=${quote(words(c).join(' '))} ;;`;
    })
    .join('\n');
  const paths = allCommands(program)
    .filter((c) => c !== program)
    .map((c) => commandPath(c));
  return `# drillbook bash completion: source <(drillbook completion bash)
_drillbook() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" path="" candidate word i opts=""
  local known=${quote(`|${paths.join('|')}|`)}
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    [[ "$word" == -* ]] && continue
    candidate="\${path:+$path }$word"
    [[ "$known" == *"|$candidate|"* ]] && path="$candidate"
  done
  case "$path" in
${cases}
  esac
  COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -o default -F _drillbook drillbook
`;
}

export function zshCompletion(program: Command): string {
  return `#compdef drillbook
# drillbook zsh completion: drillbook completion zsh > "\${fpath[1]}/_drillbook" (or source <(drillbook completion zsh))
autoload -U +X bashcompinit && bashcompinit
${bashCompletion(program)}`;
}
