"""The alias table: spellings of a name, across articles, mapped to the one canonical name first seen.

Within an article, variants already join (entities.join_names); the table carries what was learnt to the
next articles, so 'Ahmad Masoud' in a later story counts for 'Ahmad Massoud'. Keys are the folded spelling
with its type ('PERSON|ahmad masoud'); an entry is written once and never changed, so replays are harmless.
"""

from __future__ import annotations

from collections.abc import MutableMapping

from newsflow_enrich.names import fold
from newsflow_schemas import Entity


class AliasBook:
    def __init__(self, table: MutableMapping[str, str]) -> None:
        self.table = table

    def canonical(self, entity: Entity) -> str:
        return self.table.get(f"{entity.type}|{fold(entity.name)}", entity.name)

    def learn(self, canonical: str, kind: str, spellings: set[str]) -> None:
        """Map each spelling (and the canonical name's own folded form) to ``canonical`` unless known already."""
        for spelling in {canonical, *spellings}:
            key = f"{kind}|{fold(spelling)}"
            if key not in self.table:
                self.table[key] = canonical

    def apply(self, entities: list[Entity], spellings: dict[tuple[str, str], set[str]]) -> list[Entity]:
        """Entities renamed to their canonical names (merged when two meet), and what they teach learnt.

        ``spellings``: (name, type) -> the spellings the article joined under that name.
        """
        merged: dict[tuple[str, str], Entity] = {}
        for entity in entities:
            name = self.canonical(entity)
            self.learn(name, entity.type, spellings.get((entity.name, entity.type), set()) | {entity.name})
            key = (name, entity.type)
            if key in merged:
                earlier = merged[key]
                count, offset = earlier.count + entity.count, min(earlier.first_offset, entity.first_offset)
                merged[key] = earlier.model_copy(update={"count": count, "first_offset": offset})
            else:
                merged[key] = entity.model_copy(update={"name": name})
        return sorted(merged.values(), key=lambda e: (-e.count, e.first_offset))
