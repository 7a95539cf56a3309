"""Outgoing messages (e-mail, SMS, Zalo): queue, deliver once, render per kind, adapters per provider."""
