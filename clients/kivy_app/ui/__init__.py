"""The Kivy screens. They only draw and forward taps; every decision is in ``core``."""
