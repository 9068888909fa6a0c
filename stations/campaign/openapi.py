"""The campaign part of the OpenAPI document (merged by stations/openapi.py)."""

from __future__ import annotations

__all__ = ["campaign_paths", "campaign_schemas", "QIYOU_SCHEMA"]

QIYOU_SCHEMA = {
    "type": ["object", "null"],
    "description": "The station's latest 七有 checklist (from a confirmed campaign or an inspection)",
    "properties": {
        "date": {"type": "string"}, "source": {"type": "string", "enum": ["campaign", "inspection"]},
        "total": {"type": "number", "minimum": 0, "maximum": 100},
        "criteria": {"type": "object", "additionalProperties": {"type": "object", "properties": {
            "score": {"type": ["number", "null"]}, "items_met": {"type": "array", "items": {"type": "string"}}}}}},
}

_REF = "#/components/schemas/"
_SECURE = [{"bearerAuth": []}, {"basicAuth": []}, {"session": []}]


def _json(schema_name):
    return {"application/json": {"schema": {"$ref": _REF + schema_name}}}


def _answer(description, schema_name):
    return {"description": description, "content": _json(schema_name)}


def _errors(*codes):
    text = {"400": "Bad input (the error names the field in `parameter`)", "401": "Not logged in",
            "403": "Not allowed (forged or tampered requests are also recorded)",
            "404": "No such campaign or object", "409": "Not in this stage, or locked",
            "429": "Too many objections from this client (Retry-After)",
            "413": "Body larger than YIZHAN_MAX_UPLOAD_MB",
            "503": "Database busy; retry after Retry-After"}
    return {c: {"description": text[c], "content": _json("CampaignError")} for c in codes}


def _photo_errors():
    """The refusals of a photo upload: as any campaign call, plus the account's hourly
    photo limit (429) and no free photo decoder (503)."""
    return {**_errors("400", "401", "403", "404", "409", "413"),
            "429": {"description": "Too many photos from this account this hour (YIZHAN_PHOTO_UPLOADS_PER_USER); "
                                   "Retry-After", "content": _json("CampaignError")},
            "503": {"description": "Database busy (Retry-After), or every photo decoder busy; retry later",
                    "content": _json("CampaignError")}}


def _body(schema_name):
    return {"requestBody": {"required": True, "content": _json(schema_name)}}


_ID = {"name": "campaign_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_SID = {"name": "station_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_PHOTO_TYPES = "image/jpeg, image/png, image/webp"
_OID = {"name": "objection_id", "in": "path", "required": True, "schema": {"type": "integer"}}


def campaign_paths() -> dict:
    base = "/api/v1/campaigns"
    return {
        base: {"post": {"summary": "Create a campaign (organiser)", **_body("CampaignInput"), "security": _SECURE,
                        "responses": {"201": _answer("Created", "Campaign"), **_errors("400", "401", "403")}}},
        base + "/{campaign_id}": {"get": {
            "summary": "A campaign, its stage and rubric", "parameters": [_ID], "security": _SECURE,
            "responses": {"200": _answer("Campaign", "Campaign"), **_errors("401", "403", "404")}}},
        base + "/{campaign_id}/rubric": {"put": {
            "summary": "Replace the rubric (organiser, before review starts)", "parameters": [_ID],
            **_body("RubricInput"), "security": _SECURE,
            "responses": {"200": {"description": "The rubric as stored"}, **_errors("400", "401", "403", "404", "409")}}},
        base + "/{campaign_id}/nominations": {"get": {
            "summary": "Nominations you may see: a union account its union's (every colleague the same), "
                       "an admin those of its scope (a district admin: its subtree's)",
            "parameters": [_ID], "security": _SECURE,
            "responses": {"200": _answer("Nominations", "NominationList"), **_errors("401", "403", "404")}},
            "post": {
            "summary": "Nominate a station (union: its own union's active stations; organiser: any)",
            "description": "JSON, or multipart/form-data with the same fields and up to 6 `photos` "
                           "(JPEG, PNG or WebP, 5 MB each; a JPEG of at most 40 scans; decoded in a limited "
                           "process and re-encoded as pixels only, without EXIF, comments or profiles, as the web "
                           "form does). All or nothing: a bad photo refuses the nomination (400, parameter "
                           "`photos`); photos count against the account's hourly limit (429).",
            "parameters": [_ID], "requestBody": {"required": True, "content": {
                **_json("NominationInput"),
                "multipart/form-data": {"schema": {"$ref": _REF + "NominationUpload"},
                                        "encoding": {"photos": {"contentType": _PHOTO_TYPES}}}}},
            "security": _SECURE,
            "responses": {"201": _answer("Nominated", "Nomination"), **_photo_errors()}}},
        base + "/{campaign_id}/nominations/{station_id}/photos": {"post": {
            "summary": "Add photos to a nomination while nominations are open (organiser, or the nominating union)",
            "description": "multipart/form-data with one or more `photos` (JPEG, PNG or WebP, 5 MB each; at most 6 "
                           "per nomination in all); checked and re-encoded as when nominating; all or nothing; "
                           "they count against the account's hourly photo limit (429).",
            "parameters": [_ID, _SID], "requestBody": {"required": True, "content": {
                "multipart/form-data": {"schema": {"$ref": _REF + "PhotosUpload"},
                                        "encoding": {"photos": {"contentType": _PHOTO_TYPES}}}}},
            "security": _SECURE,
            "responses": {"201": _answer("Photos added", "PhotosAdded"), **_photo_errors()}}},
        base + "/{campaign_id}/nominations/{station_id}/forward": {
            "post": {"summary": "Forward a nomination of your union's subtree to the organiser's review "
                                "(an admin of a union given a 推荐名额 in this campaign, during 基层推荐); "
                                "forwarding one already forwarded changes nothing",
                     "description": "403 when your union has no quota in the campaign or the nomination lies "
                                    "outside its subtree (recorded); 409 over the quota (the error carries "
                                    "`forwarded` and `quota`) or after 基层推荐.",
                     "parameters": [_ID, _SID], "security": _SECURE,
                     "responses": {"200": _answer("Forwarded", "Forwarded"),
                                   **_errors("401", "403", "404", "409")}},
            "delete": {"summary": "Withdraw a forwarded nomination (the same admin's union, during 基层推荐)",
                       "parameters": [_ID, _SID], "security": _SECURE,
                       "responses": {"200": _answer("Withdrawn", "Forwarded"),
                                     **_errors("401", "403", "404", "409")}}},
        base + "/{campaign_id}/stage": {"post": {
            "summary": "Move one stage forward (organiser); skipping or going back is 409",
            "parameters": [_ID], **_body("StageInput"), "security": _SECURE,
            "responses": {"200": _answer("The campaign in its new stage", "Campaign"),
                          **_errors("400", "401", "403", "404", "409")}}},
        base + "/{campaign_id}/assignments": {
            "post": {"summary": "Assign reviewers automatically (organiser): k per station, no conflict "
                                "of interest, loads as even as conflicts allow (``note`` says who got "
                                "fewer and why); 409 names the stations that cannot get k reviewers",
                     "parameters": [_ID], "security": _SECURE,
                     "responses": {"201": _answer("Assignments", "Assignments"),
                                   **_errors("401", "403", "404", "409")}},
            "get": {"summary": "Assignments (a reviewer sees only their own)", "parameters": [_ID],
                    "security": _SECURE,
                    "responses": {"200": _answer("Assignments", "Assignments"), **_errors("401", "403", "404")}}},
        base + "/{campaign_id}/assignments/change": {"post": {
            "summary": "Replace one reviewer of a station, optionally swapping a station back (organiser)",
            "parameters": [_ID], **_body("AssignmentChange"), "security": _SECURE,
            "responses": {"200": _answer("Assignments", "Assignments"), **_errors("400", "401", "403", "404", "409")}}},
        base + "/{campaign_id}/reviews": {"post": {
            "summary": "Keep a draft or submit a review (reviewer, assigned stations only; submitted is locked)",
            "parameters": [_ID], **_body("ReviewInput"), "security": _SECURE,
            "responses": {"201": _answer("Created", "Review"), "200": _answer("Updated", "Review"),
                          **_errors("400", "401", "403", "404", "409")}}},
        base + "/{campaign_id}/ranking": {"get": {
            "summary": "The ranking with flags and Kendall's W (organiser)",
            "parameters": [_ID, {"name": "normalise", "in": "query", "required": False,
                                 "description": "1: z-scores per reviewer; 0: raw (default: the campaign's setting)",
                                 "schema": {"type": "string", "enum": ["0", "1"]}}],
            "security": _SECURE,
            "responses": {"200": _answer("Ranking", "Ranking"), **_errors("400", "401", "403", "404")}}},
        base + "/{campaign_id}/notice": {"get": {
            "summary": "The public list: provisional during 公示, final after 确认 (404 before)",
            "parameters": [_ID], "responses": {"200": _answer("Notice", "Notice"), **_errors("404")}}},
        base + "/{campaign_id}/objections": {"post": {
            "summary": "Lodge an objection to a listed station (public, rate-limited, nothing personal stored)",
            "parameters": [_ID], **_body("ObjectionInput"),
            "responses": {"201": _answer("Lodged", "Objection"),
                          "200": _answer("The same objection (same words, station and sender) was already "
                                         "received: the first one, duplicate true, with a message", "Objection"),
                          **_errors("400", "404", "409", "429")}}},
        base + "/{campaign_id}/objections/{objection_id}": {"post": {
            "summary": "Resolve an objection (organiser): upheld removes the station, the next moves up",
            "parameters": [_ID, _OID], **_body("ObjectionDecision"), "security": _SECURE,
            "responses": {"200": {"description": "Resolved"}, **_errors("400", "401", "403", "404", "409")}}},
    }


def campaign_schemas() -> dict:
    integer, string, number = {"type": "integer"}, {"type": "string"}, {"type": "number"}
    item = {"type": "object", "required": ["key", "name"], "properties": {
        "key": string, "name": string, "priority": {"type": "boolean"}}}
    criterion = {"type": "object", "required": ["key", "name", "weight"], "properties": {
        "key": string, "name": string, "weight": number, "items": {"type": "array", "items": item}}}
    rubric = {"type": "object", "required": ["criteria"], "properties": {
        "name": string, "criteria": {"type": "array", "items": criterion, "minItems": 1, "maxItems": 12}}}
    return {
        "CampaignError": {"type": "object", "properties": {"error": {"type": "object", "properties": {
            "status": integer, "message": string, "parameter": string,
            "stations": {"type": "array", "items": {"type": "object"}}, "missing": integer,
            "forwarded": integer, "quota": integer}}}},
        "NominationList": {"type": "object", "required": ["nominations"], "properties": {
            "nominations": {"type": "array", "items": {
                "type": "object", "required": ["id", "station_id", "union_id", "reason", "photos"], "properties": {
                    "id": integer, "station_id": integer, "union_id": {"type": ["integer", "null"]},
                    "union_name": {"type": ["string", "null"]}, "name": string, "reason": string,
                    "photos": {"type": "array", "items": integer,
                               "description": "Photo ids: GET /campaigns/{campaign_id}/photos/{id}"},
                    "forwarded": {"type": "boolean"},
                    "forwarded_at": {"type": ["string", "null"]}}}}}},
        "Forwarded": {"type": "object", "required": ["station_id", "forwarded", "count", "quota"], "properties": {
            "station_id": integer, "name": string, "forwarded": {"type": "boolean"},
            "forwarded_at": {"type": ["string", "null"]},
            "count": {"type": "integer", "description": "Nominations your union has forwarded (已推荐 N)"},
            "quota": {"type": "integer", "description": "Your union's 推荐名额 (名额 M)"}}},
        "Rubric": rubric,
        "RubricInput": {"type": "object", "properties": {"rubric": {"$ref": _REF + "Rubric"}}},
        "CampaignInput": {"type": "object", "required": ["name", "year", "level", "quota", "subsidy_yuan",
                                                         "reviewers_per_station"], "properties": {
            "name": string, "year": {"type": "integer", "minimum": 2000, "maximum": 2100},
            "level": {"type": "string", "enum": ["national", "municipal", "district"]},
            "quota": {"type": "integer", "minimum": 1}, "subsidy_yuan": {"type": "integer", "minimum": 0},
            "reviewers_per_station": {"type": "integer", "minimum": 1, "maximum": 20},
            "notice_days": {"type": "integer", "minimum": 0, "maximum": 60, "default": 7},
            "normalise": {"type": "boolean"}, "rubric": {"$ref": _REF + "Rubric"},
            "pass_mark": {"type": ["number", "null"], "minimum": 0, "maximum": 100,
                          "description": "Minimum total to be listed, whatever the quota (null: none)"}}},
        "Campaign": {"type": "object", "required": ["id", "name", "stage", "rubric"], "properties": {
            "id": integer, "name": string, "year": integer, "level": string, "quota": integer,
            "subsidy_yuan": integer, "reviewers_per_station": integer, "notice_days": integer,
            "stage": {"type": "string", "enum": ["nomination", "review", "notice", "confirmed"]},
            "stage_name": string, "normalise": {"type": "boolean"},
            "union_id": {"type": ["integer", "null"], "description": "The organising union (null: none)"},
            "title": {"type": "string", "description": "The honour, named after who awards it "
                                                       "(2026年北京市最美工会户外劳动者服务站点)"},
            "notice": {"type": "object", "properties": {"start": {"type": ["string", "null"]},
                                                        "end": {"type": ["string", "null"]}}},
            "rubric": {"$ref": _REF + "Rubric"},
            "archived_at": {"type": ["string", "null"], "description": "When the organiser cancelled it (null: in force)"},
            "archived_reason": {"type": ["string", "null"]}, "pass_mark": {"type": ["number", "null"]},
            "warnings": {"type": "array", "items": string,
                         "description": "On creation: other campaigns in force with the same name"}}},
        "NominationInput": {"type": "object", "required": ["station_id", "reason"], "properties": {
            "station_id": integer, "reason": {"type": "string", "minLength": 5, "maxLength": 1000}}},
        "NominationUpload": {"type": "object", "required": ["station_id", "reason"], "properties": {
            "station_id": integer, "reason": {"type": "string", "minLength": 5, "maxLength": 1000},
            "photos": {"type": "array", "maxItems": 6, "items": {"type": "string", "format": "binary"}}}},
        "PhotosUpload": {"type": "object", "required": ["photos"], "properties": {
            "photos": {"type": "array", "minItems": 1, "maxItems": 6,
                       "items": {"type": "string", "format": "binary"}}}},
        "PhotosAdded": {"type": "object", "properties": {
            "station_id": integer, "added": integer, "photos": integer,
            "photo_ids": {"type": "array", "items": integer}}},
        "Nomination": {"type": "object", "properties": {
            "id": integer, "station_id": integer, "name": string, "union_name": {"type": ["string", "null"]},
            "reason": string, "photos": integer}},
        "StageInput": {"type": "object", "required": ["stage"], "properties": {
            "stage": {"type": "string", "enum": ["review", "notice", "confirmed"]},
            "reason": {"type": "string", "maxLength": 500}, "force": {"type": "boolean"},
            "notice_start": {"type": "string", "description": "Moving to notice: the period's first day, "
                             "YYYY-MM-DD, today to 60 days ahead (default today)"},
            "notice_workdays": {"type": "boolean", "description": "Moving to notice: count notice_days as "
                                "China's working days (工作日)"}}},
        "Assignments": {"type": "object", "properties": {"assignments": {"type": "array", "items": {
            "type": "object", "properties": {"station_id": integer, "reviewer": string,
                                             "state": {"type": "string", "enum": ["todo", "draft", "submitted", "held"]}}}},
            "note": {"type": "string", "description": "Who got fewer than the fair share and why (empty when even)"}}},
        "AssignmentChange": {"type": "object", "required": ["station_id", "from_reviewer", "to_reviewer"],
                             "properties": {"station_id": integer, "from_reviewer": string, "to_reviewer": string,
                                            "swap_station": integer}},
        "ReviewInput": {"type": "object", "required": ["station_id"], "properties": {
            "station_id": integer,
            "scores": {"type": "object", "description": "0–10 each, kept to one decimal (rounded); a string "
                       "such as \"7,5\" is read as 7.5",
                       "additionalProperties": {"type": "number", "minimum": 0, "maximum": 10}},
            "items": {"type": "array", "items": string},
            "notes": {"type": "object", "additionalProperties": string},
            "note": string, "submit": {"type": "boolean", "default": False}}},
        "Review": {"type": "object", "properties": {
            "station_id": integer, "scores": {"type": "object"}, "items": {"type": "array"},
            "notes": {"type": "object"}, "note": string, "submitted": {"type": "boolean"}}},
        "Ranking": {"type": "object", "required": ["ranking", "agreement"], "properties": {
            "ranking": {"type": "array", "items": {"type": "object", "properties": {
                "rank": {"type": ["integer", "null"]}, "station_id": integer, "name": string,
                "total": {"type": ["number", "null"]}, "criteria": {"type": "object"}, "reviews": integer,
                "spread": number, "flags": {"type": "array", "items": {
                    "type": "string", "enum": ["face_project", "low_agreement"]}},
                "face_reasons": {"type": "array", "items": string,
                                 "description": "Why the row is flagged face_project (Chinese), with what "
                                                "was counted: riders' check-ins and feedback in client-days "
                                                "(one phone at the station on one day counts once)"}}}},
            "agreement": {"type": "object", "properties": {"kendall_w": {"type": ["number", "null"]},
                                                           "reviewers": integer}},
            "normalise": {"type": "boolean"}, "rules": {"type": "object"}}},
        "Notice": {"type": "object", "required": ["stage", "period", "stations"], "properties": {
            "stage": string, "quota": integer,
            "period": {"type": "object", "properties": {"start": string, "end": string}},
            "schedule": {"type": "object", "description": "The period as the public is told it", "properties": {
                "days": integer, "workdays": {"type": "boolean"}, "confirmed_at": {"type": ["string", "null"]},
                "state": {"type": "string", "enum": ["upcoming", "running", "over", "confirmed", "ended_early"]}}},
            "stations": {"type": "array", "items": {"type": "object", "properties": {
                "rank": integer, "station_id": integer, "name": string,
                "district": {"type": ["string", "null"]}, "total": number}}}}},
        "Objection": {"type": "object", "required": ["id", "station_id", "state", "duplicate"], "properties": {
            "id": integer, "campaign_id": integer, "station_id": integer,
            "state": {"type": "string", "enum": ["open", "upheld", "rejected"]},
            "duplicate": {"type": "boolean"}, "message": string}},
        "ObjectionInput": {"type": "object", "required": ["station_id", "reason"], "properties": {
            "station_id": integer, "reason": {"type": "string", "minLength": 5, "maxLength": 500}}},
        "ObjectionDecision": {"type": "object", "required": ["upheld", "reason"], "properties": {
            "upheld": {"type": "boolean"}, "reason": {"type": "string", "minLength": 1, "maxLength": 500}}},
    }
