"""Choices for the enrolment form: areas and collaborators of one commune in scope."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models.orgunits import LEVEL_AREA, OrgUnit
from server.models.people import Collaborator
from server.orgunits.queries import current_tree
from server.security.scope import Scope

MAX_CHOICES = 500


def areas_of(session: Session, scope: Scope, commune: str) -> list[OrgUnit]:
    """Active collaborator areas of ``commune`` that the scope covers."""
    return list(session.scalars(select(OrgUnit).where(
        OrgUnit.tree == current_tree(session), OrgUnit.level == LEVEL_AREA, OrgUnit.active,
        OrgUnit.commune_code == commune, scope.where(OrgUnit))
        .order_by(OrgUnit.code).limit(MAX_CHOICES)))


def collaborators_of(session: Session, scope: Scope, commune: str) -> list[Collaborator]:
    return list(session.scalars(select(Collaborator).where(
        Collaborator.commune_code == commune, Collaborator.active, scope.where(Collaborator))
        .order_by(Collaborator.area_code, Collaborator.full_name, Collaborator.id)
        .limit(MAX_CHOICES)))
