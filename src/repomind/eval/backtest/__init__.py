"""Backtest on a repository's own history: task instances built SWE-bench style from its fixes (commits
with their tests, or merged pull requests that close issues), the environment built the bot's way for
instances that ``swebench`` has no specification of, and the replay of the bot on those tasks."""
