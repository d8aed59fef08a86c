"""Editors and what they do: API tokens and roles (`editors`), console sign-in with passwords and TOTP
(`sign_in`), and the activity log of who did what (`activity`)."""
