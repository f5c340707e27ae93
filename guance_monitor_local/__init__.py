"""guance-monitor outside DataFlux Func: local Func runtime, sandbox, script-market export, CLI."""
