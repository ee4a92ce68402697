"""The plan dashboard (考核): the 2025 targets of the plan against actual figures."""
