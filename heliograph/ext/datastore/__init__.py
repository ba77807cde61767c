"""``datastore``: tabular records behind resources (CKAN's datastore extension).

Actions ``datastore_create``, ``datastore_upsert``, ``datastore_delete``,
``datastore_search`` and ``datastore_info``; the ``ckanext`` signals
``datastore_upsert`` and ``datastore_delete``; the commands
``heliograph datastore load`` and ``heliograph datastore dump``. Written
against ``heliograph.plugins`` and its toolkit alone, as a third party would.
"""
