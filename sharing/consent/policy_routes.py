"""HTTP routes of the policy templates: the terms each kind of legal instrument allows."""

from __future__ import annotations

from litestar import Controller, get
from litestar.params import FromPath

from sharing.consent.schemas import PolicyRead
from sharing.dependencies import PoliciesDep, PrincipalDep
from sharing.errors import NotFound
from sharing.openapi import problem_responses


class PolicyController(Controller):
    """The policy templates: the terms each kind of legal instrument allows."""

    path = "/policies"
    tags = ("policies",)

    @get(
        "/",
        summary="List policy templates",
        description="Every policy template this hub enforces, with purpose labels. Readable by "
        "any authenticated caller.",
        responses=problem_responses(401),
    )
    async def list_policies(
        self, principal: PrincipalDep, policies: PoliciesDep
    ) -> list[PolicyRead]:
        """List the templates."""
        del principal  # asked for only so that the caller must be authenticated
        return [PolicyRead.of(template) for template in policies.all()]

    @get(
        "/{name:str}",
        summary="Read a policy template",
        description="One policy template by name. Readable by any authenticated caller.",
        responses=problem_responses(401, 404),
    )
    async def get_policy(
        self, principal: PrincipalDep, policies: PoliciesDep, name: FromPath[str]
    ) -> PolicyRead:
        """Read one template."""
        del principal  # asked for only so that the caller must be authenticated
        template = policies.get(name)
        if template is None:
            raise NotFound(f"there is no policy template '{name}'")
        return PolicyRead.of(template)
