"""Every domain's tables, imported in one place so migrations and checks see the whole schema."""

import sharing.access.models
import sharing.audit.models
import sharing.cameras.models
import sharing.consent.models
import sharing.emergency.models
import sharing.federation.models
import sharing.oauth.models
import sharing.parties.models
import sharing.webhooks.models  # noqa: F401
