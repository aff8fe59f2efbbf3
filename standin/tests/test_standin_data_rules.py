"""The data rules without a server: who sees and may change what (acl), the store, HQL over data
rows, Delete2's graph, the [data] section of a users file."""

from __future__ import annotations

import pytest

from omero_standin import acl, dataspec, hql, hql_eval, schema
from omero_standin.datastore import Record, Ref, Store
from omero_standin.delete import GraphError, plan_delete
from omero_standin.directory import Directory
from omero_standin.rows import Data
from omero_standin.users import UsersFileError, parse_users

PERMS = {10: "rw----", 11: "rwr---", 12: "rwra--", 13: "rwrw--", 14: "rwrwr-"}
OWNER, MEMBER, LEADER, OUTSIDER, ADMIN = 2, 3, 4, 5, 0


def perms_of(gid: int) -> str:
    return PERMS.get(gid, "rw----")


def who(uid: int, group: int, *, admin: bool = False, leads: tuple[int, ...] = (),
        privileges: frozenset[str] = frozenset()) -> acl.Actor:
    member = frozenset() if uid == OUTSIDER else frozenset(PERMS)
    from omero_standin.users import ALL_PRIVILEGES

    return acl.Actor(uid, group, member, frozenset(leads), admin,
                     privileges if privileges or not admin else frozenset(ALL_PRIVILEGES))


@pytest.mark.parametrize("gid,member_sees", [(10, False), (11, True), (12, True), (13, True)])
def test_reading_follows_the_group_permissions(gid: int, member_sees: bool) -> None:
    assert acl.can_read(who(OWNER, gid), OWNER, gid, perms_of)
    assert acl.can_read(who(MEMBER, gid), OWNER, gid, perms_of) is member_sees
    assert acl.can_read(who(LEADER, gid, leads=(gid,)), OWNER, gid, perms_of)
    assert acl.can_read(who(ADMIN, gid, admin=True), OWNER, gid, perms_of)
    assert not acl.can_read(who(OUTSIDER, -1), OWNER, gid, perms_of)
    assert not acl.can_read(who(OWNER, 11 if gid != 11 else 12), OWNER, gid, perms_of), "another group's context"


def test_all_groups_shows_only_the_callers_groups_and_world_readable_ones() -> None:
    assert acl.can_read(who(MEMBER, -1), OWNER, 11, perms_of)
    assert not acl.can_read(who(MEMBER, -1), OWNER, 10, perms_of)
    assert acl.can_read(who(OUTSIDER, -1), OWNER, 14, perms_of), "rwrwr- is readable to everyone"
    assert acl.can_read(who(ADMIN, -1, admin=True), OWNER, 10, perms_of)


@pytest.mark.parametrize("gid,member_rights", [
    (10, set()), (11, set()), (12, {"annotate"}), (13, {"link", "edit", "delete", "annotate"}),
])
def test_rights_of_a_member_on_anothers_object(gid: int, member_rights: set[str]) -> None:
    assert acl.rights(who(MEMBER, gid), OWNER, gid, perms_of) == member_rights
    assert acl.rights(who(OWNER, gid), OWNER, gid, perms_of) == set(acl.SCOPES)


def test_leaders_and_admins_may_everything_but_link_in_a_private_group() -> None:
    assert acl.rights(who(LEADER, 11, leads=(11,)), OWNER, 11, perms_of) == set(acl.SCOPES)
    assert acl.rights(who(LEADER, 10, leads=(10,)), OWNER, 10, perms_of) == {"edit", "delete"}
    assert acl.rights(who(ADMIN, 10, admin=True), OWNER, 10, perms_of) == {"edit", "delete"}
    light = who(ADMIN, 11, admin=True, privileges=frozenset({"WriteOwned"}))
    assert acl.rights(light, OWNER, 11, perms_of) == {"link", "edit", "annotate"}
    assert acl.rights(who(1, 13), OWNER, 13, perms_of) == set(), "the guest may nothing"


def test_store_ids_per_table_and_collections_by_reverse_reference() -> None:
    store = Store()
    tag = Record("TagAnnotation", store.next_id("TagAnnotation"), OWNER, 11)
    comment = Record("CommentAnnotation", store.next_id("CommentAnnotation"), OWNER, 11)
    assert (tag.id, comment.id) == (1, 2), "annotations share one sequence"
    assert store.next_id("Project") == 1
    project = Record("Project", 1, OWNER, 11, {"name": "p"})
    for rec in (tag, comment, project):
        store.put(rec)
    link = Record("ProjectAnnotationLink", store.next_id("ProjectAnnotationLink"), OWNER, 11,
                  {"parent": Ref("Project", 1), "child": Ref("TagAnnotation", 1)})
    store.put(link)
    assert store.referrers("ProjectAnnotationLink", "parent", 1) == [link]
    assert [r.kind for r in store.rows("Annotation")] == ["TagAnnotation", "CommentAnnotation"]
    assert store.get("Annotation", 2) is comment and store.get("TagAnnotation", 2) is None
    with pytest.raises(RuntimeError), store.transaction():
        store.remove(project.ref)
        raise RuntimeError("rolled back")
    assert store.get("Project", 1) is not None
    assert store.find_enum("PixelsType", "uint16").fields["value"] == "uint16"


def _data(store: Store, actor: acl.Actor) -> Data:
    from omero_standin import DEFAULT_USERS

    d = Directory.from_spec(DEFAULT_USERS)
    data = Data(d, None, d.user(OWNER), False, store, actor)  # type: ignore[arg-type]
    data.perms_of = perms_of  # type: ignore[method-assign]
    return data


def _images_store() -> Store:
    store = Store()
    store.put(Record("Dataset", 1, OWNER, 11, {"name": "d"}))
    for i, name in enumerate(["a.tif", "b.tif", "c.tif"], start=1):
        store.put(Record("Image", i, OWNER, 11, {"name": name}))
    store.put(Record("Image", 4, OWNER, 10, {"name": "private.tif"}))
    store.put(Record("DatasetImageLink", 1, OWNER, 11, {"parent": Ref("Dataset", 1), "child": Ref("Image", 1)}))
    store.put(Record("DatasetImageLink", 2, OWNER, 11, {"parent": Ref("Dataset", 1), "child": Ref("Image", 2)}))
    store.put(Record("TagAnnotation", 1, OWNER, 11, {"textValue": "t"}))
    store.put(Record("MapAnnotation", 2, OWNER, 11, {"mapValue": [("k", "v")]}))
    for lid, (image, kind, ann) in enumerate([(1, "TagAnnotation", 1), (2, "MapAnnotation", 2)], start=1):
        ends = {"parent": Ref("Image", image), "child": Ref(kind, ann)}
        store.put(Record("ImageAnnotationLink", lid, OWNER, 11, ends))
    return store


def _q(text: str, data: Data, **params: object) -> list[tuple]:
    return hql_eval.run(hql.parse(text), data, params)


def test_hql_over_data_rows_with_the_constructs_clients_send() -> None:
    data = _data(_images_store(), who(MEMBER, -1))
    assert _q("SELECT i.id FROM Image i WHERE NOT EXISTS (SELECT dil FROM DatasetImageLink dil "
              "WHERE dil.child=i.id)", data) == [(3,)], "the private image is not visible"
    assert _q("SELECT i.id FROM Image i JOIN i.annotationLinks al JOIN al.child a "
              "WHERE a.textValue=:v AND TYPE(a)=TagAnnotation", data, v="t") == [(1,)]
    assert _q("SELECT i.id FROM Image i JOIN i.annotationLinks al JOIN al.child ann JOIN ann.mapValue as nv "
              "WHERE nv.name = :k AND nv.value = :v", data, k="k", v="v") == [(2,)]
    assert _q("select i.name || '!' from Image i where i.id in (select l.child.id from DatasetImageLink l) "
              "order by i.name desc", data) == [("b.tif!",), ("a.tif!",)]
    assert _q("select count(i) from Image i where i.details.owner.id = :o", data, o=OWNER) == [(3,)]
    assert _q("select i.id from Dataset d join d.imageLinks l join l.child i where index(l) = 1", data) == [(2,)]
    assert _q("select a.id from Annotation a where a.class = MapAnnotation", data) == [(2,)]
    # a property may be a keyword (BlitzGateway's Well query fetches ``well.details.group``)
    assert hql.parse("select w from Well w join fetch w.details.group where w.details.group.id = 1").root.alias == "w"


@pytest.mark.parametrize("text,problem", [
    ("select a.ns, count(a) from Annotation a group by a.ns", "GROUP BY"),
    ("select case when a.id > 1 then 1 else 0 end from Annotation a", "CASE"),
    ("select i.nosuchfield from Image i", "could not resolve"),
])
def test_hql_outside_the_subset_names_the_construct(text: str, problem: str) -> None:
    from omero_standin.errors import IllegalQuery

    data = _data(_images_store(), who(OWNER, -1))
    with pytest.raises((hql.HqlError, IllegalQuery), match=problem):
        data.known_fields = lambda kind: frozenset({"name", "id"})
        _q(text, data)


def test_delete2_takes_links_and_orphans_and_keeps_what_is_held_elsewhere() -> None:
    store = _images_store()
    store.put(Record("Dataset", 2, OWNER, 11, {"name": "other"}))
    store.put(Record("DatasetImageLink", 3, OWNER, 11, {"parent": Ref("Dataset", 2), "child": Ref("Image", 2)}))
    plan = plan_delete(store, who(OWNER, 11), perms_of, {"Dataset": [1]})
    doomed = {(r.kind, r.id) for r in plan.doomed.values()}
    assert ("Image", 1) in doomed and ("Image", 2) not in doomed, "image 2 stays in dataset 2"
    assert {("DatasetImageLink", 1), ("DatasetImageLink", 2), ("ImageAnnotationLink", 1)} <= doomed
    assert ("TagAnnotation", 1) in doomed, "the owner's orphaned tag goes with the owner's image"
    kept = plan_delete(store, who(OWNER, 11), perms_of, {"Dataset": [1]}, exclude=["Image"])
    assert ("Image", 1) not in {(r.kind, r.id) for r in kept.doomed.values()}
    with pytest.raises(GraphError, match="may not delete"):
        plan_delete(store, who(MEMBER, 11), perms_of, {"Dataset": [1]})


def test_data_section_is_validated_with_the_entry_and_key() -> None:
    base = {"users": {"ann": {"password": "pw", "groups": ["lab"]}}}
    users = parse_users({**base, "data": {"projects": [{"name": "p", "owner": "ann", "datasets": [
        {"name": "d", "images": [{"name": "i", "size": [2, 3, 1, 1, 1]}]}]}]}})
    (project,) = users.data
    assert (project.owner, project.group) == ("ann", "lab")
    assert project.children[0].children[0].size == (2, 3, 1, 1, 1)
    assert parse_users(users.to_toml_dict()).data == users.data
    for data, problem in [
        ({"projects": [{"name": "p"}]}, "owner"),
        ({"projects": [{"name": "p", "owner": "ann", "group": "other"}]}, "not one of ann's groups"),
        ({"images": [{"name": "i", "owner": "ann", "size": [1, 2]}]}, "size"),
        ({"images": [{"name": "i", "owner": "ann", "rois": [{"shape": "star"}]}]}, "shape"),
        ({"projects": [{"name": "p", "owner": "ann", "colour": "red"}]}, "unknown key"),
        ({"folders": []}, "unknown key"),
    ]:
        with pytest.raises(UsersFileError, match=problem):
            parse_users({**base, "data": data})


def test_schema_relations_are_consistent() -> None:
    for (owner, _), (element, back) in schema.COLLECTIONS.items():
        assert owner in schema.ENTITIES and element in schema.ENTITIES and back
    assert schema.base("TagAnnotation") == "Annotation" and schema.is_a("Rectangle", "Shape")
    assert dataspec.KINDS["projects"] == "Project"
