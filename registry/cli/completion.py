"""Shell completion scripts for ``registry`` (bash, and zsh through bashcompinit)."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["script"]

BASH = """# registry completion: eval "$(registry completion bash)"
_registry() {{
  local cur="${{COMP_WORDS[COMP_CWORD]}}"
  if [[ $COMP_CWORD -eq 1 ]]; then
    COMPREPLY=( $(compgen -W "{commands}" -- "$cur") )
    return
  fi
  case "${{COMP_WORDS[1]}}" in
    list) COMPREPLY=( $(compgen -W "{kinds}" -- "$cur") ) ;;
    show) COMPREPLY=( $(compgen -W "$(registry list 2>/dev/null | awk '/^  /{{print $1}}')" -- "$cur") ) ;;
    completion) COMPREPLY=( $(compgen -W "bash zsh" -- "$cur") ) ;;
    *) COMPREPLY=( $(compgen -f -- "$cur") ) ;;
  esac
}}
complete -o filenames -o bashdefault -F _registry registry
"""

ZSH = """# registry completion: eval "$(registry completion zsh)"
autoload -U +X bashcompinit && bashcompinit
"""


def script(shell: str, commands: Sequence[str], kinds: Sequence[str]) -> str:
    """The completion script for *shell* ("bash" or "zsh")."""
    body = BASH.format(commands=" ".join(commands), kinds=" ".join(kinds))
    return body if shell == "bash" else ZSH + body.split("\n", 1)[1]
