"""The web server: the app factory, sign-in, setup mode, run pages, metrics and the worker's composition.

It composes the webhook ingress (:mod:`repomind.webhooks`) and the bot; nothing below imports it.
"""
