"""Russian Post («Почта России»): the Otpravka business API, the tracking API and an emulator of both.

See ``doc.md`` beside this file.
"""
