"""Data for district and province systems: incremental, cursor-paged feeds (DESIGN §5).

No Flask here: :mod:`server.web.api_district` parses requests and renders what
:func:`server.district.feeds.read_page` returns.
"""
