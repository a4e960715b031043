"""The public storefront list: the hottest read of the service (a livestream points thousands of
phones at it), so it has code of its own, apart from the catalog's management.

* ``listing.py`` builds a page with SQLAlchemy Core and plain dicts;
* ``page_cache.py`` keeps built pages in the database, shared by every worker and machine,
  valid while the catalog's generation is unchanged and for CATALOG_CACHE_SECONDS at most;
* ``local_pages.py`` keeps each worker's copies of the pages it served, dropped as soon as the
  generation moves (LISTEN/NOTIFY on PostgreSQL, the file's data version on SQLite);
* ``views.py`` is the HTTP side: the list's response, ETags and 304s, and the cache in front
  of anonymous requests.

The catalog's services call ``page_cache.invalidate_pages`` whenever what the list shows changes.
"""
