"""The watch service's web dashboard: server-rendered pages, live through Server-Sent Events.

Role: what ``watch --listen`` serves at ``/`` besides the JSON endpoints of
``controller.service.httpd``. ``models`` holds the frozen view models (what a page
shows, no HTML), ``feed`` follows the service (each pass, each action as it starts,
a cached container list) and wakes the event streams, ``views`` builds the view
models from the service, the journal (``controller.execution.journal.query``) and
``controller.execution.explain``, ``render`` holds the Jinja2 environment (autoescape
on; templates are package data under ``templates/``), and ``routes`` answers the GET
requests and streams ``/events``. Secrets never reach a view model: field changes are
the masked ones of the plan and the journal, and no environment value is shown.
"""
