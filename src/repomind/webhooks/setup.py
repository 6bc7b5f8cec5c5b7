"""Setup mode: register the GitHub App from ``app.yml`` through GitHub's manifest flow (filled in later)."""

from __future__ import annotations

from fastapi import APIRouter

from repomind.settings import Settings


def setup_router(settings: Settings) -> APIRouter:
    return APIRouter()
