"""Web surfaces: HTML pages, the JSON API, authentication and error handling."""
