"""Evidence from mllens findings written back to the Well-Architected Tool (`mllens wa-sync`).

The ML Lens review of a workload is read through the WA Tool API, each answer choice is mapped to
a lens best practice by the documentation pages it links to (never by its ID: IDs differ between
lens versions), and the checks of that practice summarise the latest findings in the store into
notes on the choice and on the answer. Modules, from pure to effectful:

- `model`: the review's questions and choices, parsed from API answers;
- `mapping`: choice -> practice, by linked pages;
- `evidence`: the latest findings in a workload's scope, counted per check;
- `notes`: the mllens-delimited block inside human notes, with the length limits;
- `plan`: one answer's read-modify-write (what UpdateAnswer would be sent);
- `api`: the few WA Tool calls, with one-line errors;
- `sync`: the whole run.
"""
