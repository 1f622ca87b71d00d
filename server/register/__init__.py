"""Writing the register: materialised columns, the event fold, bulk loading."""
