"""The GitHub adapter: the GitHub Protocol and its data (protocol), the githubkit client, app auth, git."""
