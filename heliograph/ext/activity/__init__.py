"""``activity``: the activity stream (CKAN's activity extension), built on signals.

Its only links to the core are ``ISignal`` (it subscribes to
``action_succeeded`` for the dataset, group, organization and user actions,
one subscription per sender), ``IActions``/``IAuthFunctions`` for its read
actions, ``IBlueprint`` for its pages, templates that extend the portal's, and
the toolkit. It records who did what, when, with a snapshot of the object
after the change.

The guarantee: ``action_succeeded`` is sent inside the action's transaction,
and the activity is written through ``context['session']``, so a change never
commits without its activity and an activity never outlives a change that was
rolled back. If an activity cannot be recorded, the subscriber vetoes the
change with a ``ValidationError`` (key ``activity``) rather than let it commit
unrecorded. Resource actions and ``package_patch`` are recorded as the
``changed package`` of the ``package_update`` they run, as in CKAN.
"""
