"""Real clients on the stand-in's data: ezomero 3.2.3, BlitzGateway, the OMERO CLI, and the group
permissions that decide who sees and changes what. Real omero-py over real sockets; the data is
seeded from a users file's [data] section, and the expected ids come from the server's own list."""

from __future__ import annotations

import pytest

ROI_RECT = {"shape": "rectangle", "x": 1.0, "y": 2.0, "width": 30.0, "height": 40.0}
ROI_POINT = {"shape": "point", "x": 5.0, "y": 6.0, "z": 1}
LAB = ["readonly-lab", "private-lab", "annotate-lab", "write-lab"]
USERS = {
    "groups": {
        "private-lab": {"permissions": "rw----"},
        "readonly-lab": {"permissions": "rwr---"},
        "annotate-lab": {"permissions": "rwra--"},
        "write-lab": {"permissions": "rwrw--"},
        "eve-lab": {"permissions": "rwr---"},
    },
    "users": {
        "ann": {"password": "ann-pw", "groups": LAB},
        "ben": {"password": "ben-pw", "groups": LAB},
        "pia": {"password": "pia-pw", "groups": ["private-lab"], "owner_of": ["private-lab"]},
        "eve": {"password": "eve-pw", "groups": ["eve-lab"]},
    },
    "data": {
        "projects": [
            {"name": "ann readonly project", "owner": "ann", "group": "readonly-lab", "tags": ["mitosis"],
             "datasets": [
                 {"name": "day 1", "images": [
                     {"name": "cells-1.tif", "size": [512, 256, 3, 2, 5], "pixel_type": "uint16",
                      "file": "cells-1.tif", "tags": ["mitosis"], "map": {"stain": "DAPI"}, "comments": ["nice"],
                      "rois": [ROI_RECT, ROI_POINT]},
                     {"name": "cells-2.tif", "file": "cells-2.tif", "map": {"stain": "GFP"}},
                 ]},
                 {"name": "day 2", "images": [{"name": "cells-3.tif"}]},
             ]},
            {"name": "ann private project", "owner": "ann", "group": "private-lab",
             "datasets": [{"name": "secret", "images": [{"name": "secret.tif"}]}]},
            {"name": "ann annotate project", "owner": "ann", "group": "annotate-lab"},
            {"name": "ann write project", "owner": "ann", "group": "write-lab"},
            {"name": "eve project", "owner": "eve"},
        ],
        "datasets": [{"name": "loose dataset", "owner": "ann", "group": "readonly-lab"}],
        "images": [{"name": "loose.tif", "owner": "ann", "group": "readonly-lab"}],
        "screens": [{"name": "screen", "owner": "ann", "group": "readonly-lab",
                     "plates": [{"name": "plate", "rows": 2, "columns": 2}]}],
        "plates": [{"name": "loose plate", "owner": "ann", "group": "readonly-lab", "columns": 1, "fields": 0}],
    },
}


@pytest.fixture(scope="module")
def srv():
    from omero_standin import running_server

    with running_server(USERS, ws=False, wss=False) as server:
        yield server


@pytest.fixture
def login(srv):
    from omero.gateway import BlitzGateway

    opened = []

    def connect(user: str, server=None, **extra):
        conn = BlitzGateway(**(server or srv).gateway_args(user, **extra))
        assert conn.connect(), f"cannot log in as {user}"
        opened.append(conn)
        return conn

    yield connect
    for conn in opened:
        conn.close()


def one(srv, kind: str, **where) -> int:
    (found,) = srv.ids(kind, **where)
    return found


def gid(srv, name: str) -> int:
    return srv.users.groups[name].id


# -- ezomero ---------------------------------------------------------------------------------------


def test_ezomero_getters_return_exactly_the_seeded_ids(srv, login):
    import ezomero

    conn = login("ann")
    project, day1 = one(srv, "Project", name="ann readonly project"), one(srv, "Dataset", name="day 1")
    images = {name: one(srv, "Image", name=name) for name in ("cells-1.tif", "cells-2.tif", "cells-3.tif")}
    ann_projects = srv.ids("Project", owner="ann")
    assert sorted(ezomero.get_project_ids(conn)) == sorted(ann_projects), "her projects in all her groups"
    assert sorted(ezomero.get_dataset_ids(conn, project=project)) == sorted(
        [day1, one(srv, "Dataset", name="day 2")])
    assert ezomero.get_dataset_ids(conn) == [one(srv, "Dataset", name="loose dataset")], "orphans"
    assert sorted(ezomero.get_image_ids(conn, dataset=day1)) == sorted([images["cells-1.tif"], images["cells-2.tif"]])
    assert sorted(ezomero.get_image_ids(conn, project=project)) == sorted(images.values())
    assert ezomero.get_image_ids(conn) == [one(srv, "Image", name="loose.tif")], "orphans: no dataset, no well"
    plate = one(srv, "Plate", name="plate")
    well = one(srv, "Well", plate=plate, row=1, column=0)
    plate_images = [o["id"] for o in srv.data("Image") if o["name"].startswith("plate ")]
    assert sorted(ezomero.get_image_ids(conn, plate=plate)) == sorted(plate_images)
    assert ezomero.get_image_ids(conn, well=well) == [one(srv, "Image", name="plate B1 field 1")]
    assert ezomero.get_plate_ids(conn, screen=one(srv, "Screen", name="screen")) == [plate]
    assert ezomero.get_plate_ids(conn) == [one(srv, "Plate", name="loose plate")]
    assert sorted(ezomero.get_well_ids(conn, plate=plate)) == sorted(
        o["id"] for o in srv.data("Well") if o["plate"] == plate)
    assert ezomero.get_well_id(conn, plate, row=1, column=0) == well
    tag = one(srv, "TagAnnotation", name="mitosis")
    assert ezomero.get_image_ids(conn, annotation=tag) == [images["cells-1.tif"]]
    assert ezomero.get_project_ids(conn, annotation=tag) == [project]


def test_ezomero_annotations_rois_and_files_of_an_image(srv, login):
    import ezomero

    conn = login("ann")
    image = one(srv, "Image", name="cells-1.tif")
    tag = one(srv, "TagAnnotation", name="mitosis")
    assert ezomero.get_tag_ids(conn, "Image", image) == [tag]
    assert ezomero.get_tag(conn, tag) == "mitosis"
    (kv,) = ezomero.get_map_annotation_ids(conn, "Image", image)
    linked = {o["child"] for o in srv.data("ImageAnnotationLink") if o["parent"] == image}
    assert [kv] == [m for m in srv.ids("MapAnnotation") if m in linked]
    assert ezomero.get_map_annotation(conn, kv) == {"stain": "DAPI"}
    (comment,) = ezomero.get_comment_annotation_ids(conn, "Image", image)
    assert ezomero.get_comment_annotation(conn, comment) == "nice"
    rois = ezomero.get_roi_ids(conn, image)
    assert sorted(rois) == sorted(o["id"] for o in srv.data("Roi") if o["image"] == image)
    assert all(len(ezomero.get_shape_ids(conn, roi)) == 1 for roi in rois)
    assert ezomero.get_original_filepaths(conn, image, fpath="client") == ["/data/cells-1.tif"]
    assert ezomero.get_original_filepaths(conn, image, fpath="repo") == ["ann/data/cells-1.tif"]
    obj, pixels = ezomero.get_image(conn, image, no_pixels=True)
    assert pixels is None and (obj.getSizeX(), obj.getSizeY(), obj.getSizeZ(), obj.getSizeC()) == (512, 256, 3, 2)


def test_ezomero_filters_keep_exactly_the_matching_ids(srv, login):
    import ezomero

    conn = login("ann")
    ids = [one(srv, "Image", name=n) for n in ("cells-1.tif", "cells-2.tif", "cells-3.tif")]
    assert ezomero.filter_by_filename(conn, ids, "cells-2.tif") == [ids[1]]
    assert ezomero.filter_by_tag_value(conn, ids, "mitosis") == [ids[0]]
    assert ezomero.filter_by_kv(conn, ids, "stain", "GFP") == [ids[1]]
    assert ezomero.filter_by_kv(conn, ids, "stain", "none") == []


def test_ezomero_posts_create_objects_in_the_connections_group(start_omero_server, login):
    import ezomero
    import omero

    server = start_omero_server(USERS, ws=False, wss=False)
    conn = login("ben", server=server)  # default group readonly-lab
    project = ezomero.post_project(conn, "ben project", "made by ezomero")
    dataset = ezomero.post_dataset(conn, "ben dataset", project_id=project)
    screen = ezomero.post_screen(conn, "ben screen")
    assert ezomero.get_dataset_ids(conn, project=project) == [dataset]
    kv = ezomero.post_map_annotation(conn, "Dataset", dataset, {"k": "v"}, ns="test")
    comment = ezomero.post_comment_annotation(conn, "Project", project, "hello")
    assert ezomero.get_map_annotation(conn, kv) == {"k": "v"} and ezomero.get_comment_annotation(conn, comment)
    image = one(server, "Image", name="cells-3.tif")  # ann's, in readonly-lab: ben may not annotate it
    with pytest.raises(omero.SecurityViolation, match="Cannot link to object"):  # ezomero catches ValueError only
        ezomero.post_map_annotation(conn, "Image", image, {"k": "v"}, ns="test")
    ben_group = gid(server, "readonly-lab")
    made = {o["id"]: o for o in server.data() if o["owner"] == "ben"}
    assert {made[project]["group"], made[dataset]["group"], made[screen]["group"]} == {"readonly-lab"}
    assert conn.getObject("Project", project).getDetails().getGroup().getId() == ben_group


def test_ezomero_post_roi_on_an_image_of_ones_own(start_omero_server, login):
    import ezomero
    from ezomero.rois import Point, Rectangle

    server = start_omero_server(USERS, ws=False, wss=False)
    conn = login("ann", server=server)
    image = one(server, "Image", name="loose.tif")
    roi = ezomero.post_roi(conn, image, [Rectangle(1, 2, 3, 4), Point(5, 6)], name="two shapes")
    assert roi in ezomero.get_roi_ids(conn, image)
    assert len(ezomero.get_shape_ids(conn, roi)) == 2


# -- BlitzGateway ----------------------------------------------------------------------------------


def test_blitzgateway_objects_children_and_image_sizes(srv, login):
    conn = login("ann")
    assert [p.getName() for p in conn.getObjects("Project")] == ["ann readonly project"], "session group only"
    conn.SERVICE_OPTS.setOmeroGroup(-1)
    assert sorted(p.getName() for p in conn.getObjects("Project")) == sorted(
        o["name"] for o in srv.data("Project") if o["owner"] == "ann")
    conn.SERVICE_OPTS.setOmeroGroup(gid(srv, "readonly-lab"))
    project = conn.getObject("Project", one(srv, "Project", name="ann readonly project"))
    assert [d.getName() for d in project.listChildren()] == ["day 1", "day 2"]
    assert project.countChildren() == 2
    day1 = next(project.listChildren())
    assert [i.getName() for i in day1.listChildren()] == ["cells-1.tif", "cells-2.tif"]
    image = conn.getObject("Image", one(srv, "Image", name="cells-1.tif"))
    assert (image.getSizeX(), image.getSizeY(), image.getSizeZ(), image.getSizeC(), image.getSizeT()) == (
        512, 256, 3, 2, 5)
    assert image.getPixelsType() == "uint16" and image.getOwnerOmeName() == "ann"
    assert image.getParent().getName() == "day 1" and [p.getName() for p in image.getAncestry()] == [
        "day 1", "ann readonly project"]
    assert {a.getValue() for a in image.listAnnotations() if a.OMERO_TYPE.__name__ == "TagAnnotationI"} == {
        "mitosis"}
    assert image.canEdit() and image.canAnnotate(), "her own image"
    assert [d.getName() for d in conn.listOrphans("Dataset")] == ["loose dataset"]
    assert [i.getName() for i in conn.getObjects("Image", opts={"dataset": one(srv, "Dataset", name="day 2")})] == [
        "cells-3.tif"]
    assert conn.getObject("Image", attributes={"name": "cells-2.tif"}).getId() == one(srv, "Image", name="cells-2.tif")


def test_blitzgateway_search_finds_by_name_and_tag(srv, login):
    conn = login("ann")
    assert sorted(i.getName() for i in conn.searchObjects(["Image"], "cells")) == [
        "cells-1.tif", "cells-2.tif", "cells-3.tif"]
    assert [i.getName() for i in conn.searchObjects(["Image"], "mitosis")] == ["cells-1.tif"]
    assert conn.searchObjects(["Project"], "nothing-like-it") == []


# -- the OMERO CLI -----------------------------------------------------------------------------------


@pytest.fixture
def omero_cli(srv, tmp_path, monkeypatch, capsys):
    from omero.cli import CLI

    monkeypatch.setenv("OMERO_SESSIONDIR", str(tmp_path / "sessions"))

    def invoke(*args: str) -> str:
        cli = CLI()
        cli.loadplugins()
        capsys.readouterr()
        cli.invoke(list(args), strict=True)
        return capsys.readouterr().out

    invoke("login", "-s", srv.host, "-p", str(srv.port), "-u", "ann", "-w", "ann-pw", "-q")
    yield invoke
    invoke("logout")


def test_omero_hql_and_obj_get_through_the_cli(srv, omero_cli):
    out = omero_cli("hql", "--style", "plain", "select p.id, p.name from Project p order by p.name")
    assert "ann readonly project" in out and "ann private project" not in out, "the session's group"
    out = omero_cli("hql", "--all", "--style", "plain", "select p.name from Project p order by p.name")
    assert "ann private project" in out and "eve project" not in out
    out = omero_cli("hql", "--all", "--style", "plain", "--ids-only",
                    "select i from Image i where i.name like 'cells-%'")
    assert all(f"ImageI:{one(srv, 'Image', name=n)}" in out for n in ("cells-1.tif", "cells-2.tif"))
    project = one(srv, "Project", name="ann write project")
    assert omero_cli("obj", "get", f"Project:{project}", "name").strip() == "ann write project"
    made = omero_cli("obj", "new", "Dataset", "name=from the CLI").strip()
    assert made.startswith("Dataset:") and srv.ids("Dataset", name="from the CLI") == [int(made.split(":")[1])]
    assert omero_cli("obj", "update", made, "description=changed").strip() == made
    assert omero_cli("obj", "get", made, "description").strip() == "changed"


# -- permissions -------------------------------------------------------------------------------------


def test_read_only_group_member_sees_but_cannot_edit_or_annotate(srv, login):
    import omero
    from omero.model import ImageAnnotationLinkI, ImageI, TagAnnotationI
    from omero.rtypes import rstring

    ben = login("ben")  # default group readonly-lab
    project = ben.getObject("Project", one(srv, "Project", name="ann readonly project"))
    assert project is not None and not project.canEdit() and not project.canAnnotate()
    raw = project._obj
    raw.setName(rstring("renamed by ben"))
    with pytest.raises(omero.SecurityViolation, match="Updating .*Project:Id_.* not allowed"):
        ben.getUpdateService().saveAndReturnObject(raw)
    tag = TagAnnotationI()
    tag.textValue = rstring("ben's tag")
    link = ImageAnnotationLinkI()
    link.parent = ImageI(one(srv, "Image", name="cells-1.tif"), False)
    link.child = tag
    with pytest.raises(omero.SecurityViolation, match="Cannot link to object"):
        ben.getUpdateService().saveAndReturnObject(link)
    assert ben.getObject("Project", project.getId()).getName() == "ann readonly project"
    assert srv.ids("TagAnnotation", name="ben's tag") == [], "the failed save left nothing behind"


def test_read_annotate_and_read_write_groups(start_omero_server, login):
    import omero
    from omero.model import ProjectAnnotationLinkI, ProjectI, TagAnnotationI
    from omero.rtypes import rstring

    server = start_omero_server(USERS, ws=False, wss=False)
    ben = login("ben", server=server)
    update = ben.getUpdateService()
    for group, may_edit in (("annotate-lab", False), ("write-lab", True)):
        ctx = {"omero.group": str(gid(server, group))}
        project = ben.getQueryService().get("Project", one(server, "Project", name=f"ann {group[:-4]} project"), ctx)
        tag = TagAnnotationI()
        tag.textValue = rstring(f"ben in {group}")
        link = ProjectAnnotationLinkI()
        link.parent, link.child = ProjectI(project.id.val, False), tag
        saved = update.saveAndReturnObject(link, ctx)
        assert saved.details.owner.id.val == ben.getUserId(), "anyone in the group may annotate"
        project.setDescription(rstring("edited by ben"))
        if may_edit:
            assert update.saveAndReturnObject(project, ctx).description.val == "edited by ben"
        else:
            with pytest.raises(omero.SecurityViolation, match="not allowed"):
                update.saveAndReturnObject(project, ctx)
    update.saveAndReturnObject(project, {"omero.group": str(gid(server, "readonly-lab"))})  # unchanged: no check
    project.setDescription(rstring("edited from another group"))
    with pytest.raises(omero.SecurityViolation, match="Cannot alter object in group"):
        update.saveAndReturnObject(project, {"omero.group": str(gid(server, "readonly-lab"))})


def test_private_group_data_is_invisible_to_other_members_and_outsiders(srv, login):
    import omero

    secret = one(srv, "Image", name="secret.tif")
    private = gid(srv, "private-lab")
    ben, eve, pia, root = login("ben"), login("eve"), login("pia"), login("root")
    for conn in (ben, eve):
        conn.SERVICE_OPTS.setOmeroGroup(-1)
        assert conn.getObject("Image", secret) is None
        names = [r[0].val for r in conn.getQueryService().projection(
            "select i.name from Image i", None, {"omero.group": "-1"})]
        assert "secret.tif" not in names
    with pytest.raises(omero.SecurityViolation, match="Cannot read"):  # by id, past the filter: the ACL refuses
        ben.getQueryService().find("Image", secret, {"omero.group": str(private)})
    assert "secret.tif" not in [r[0].val for r in eve.getQueryService().projection(
        "select i.name from Image i join i.datasetLinks l join l.parent d", None, {"omero.group": "-1"})]
    pia.SERVICE_OPTS.setOmeroGroup(private)
    found = pia.getObject("Image", secret)
    assert found.getName() == "secret.tif" and not found.canAnnotate(), "the group owner sees, cannot link"
    root.SERVICE_OPTS.setOmeroGroup(-1)
    assert root.getObject("Image", secret) is not None


def test_links_across_groups_and_saves_without_a_group_are_refused(start_omero_server, login):
    import omero
    from omero.model import DatasetI, ProjectDatasetLinkI, ProjectI
    from omero.rtypes import rstring

    server = start_omero_server(USERS, ws=False, wss=False)
    ann = login("ann", server=server)
    update = ann.getUpdateService()
    link = ProjectDatasetLinkI()
    link.parent = ProjectI(one(server, "Project", name="ann write project"), False)
    link.child = DatasetI(one(server, "Dataset", name="loose dataset"), False)
    with pytest.raises(omero.GroupSecurityViolation, match="MIXED GROUP"):
        update.saveAndReturnObject(link, {"omero.group": "-1"})
    project = ProjectI()
    project.name = rstring("nowhere")
    with pytest.raises(omero.ApiUsageException, match="omero.group=-1"):
        update.saveAndReturnObject(project, {"omero.group": "-1"})
    project.details.group = omero.model.ExperimenterGroupI(gid(server, "eve-lab"), False)
    with pytest.raises(omero.SecurityViolation, match="not authorized to set the ExperimenterGroup"):
        update.saveAndReturnObject(project)


def test_delete2_through_the_gateway_and_iupdate_delete(start_omero_server, login):
    import omero

    server = start_omero_server(USERS, ws=False, wss=False)
    ann, ben = login("ann", server=server), login("ben", server=server)
    project = one(server, "Project", name="ann readonly project")
    with pytest.raises(omero.CmdError):
        ben._waitOnCmd(ben.deleteObjects("Project", [project]))
    handle = ann.deleteObjects("Project", [project], deleteChildren=True)
    ann._waitOnCmd(handle, closehandle=True)
    names = {o["name"] for o in server.data() if "name" in o}
    assert not {"ann readonly project", "day 1", "cells-1.tif"} & names
    assert "mitosis" in names, "tags stay unless deleteAnns"
    dataset = one(server, "Dataset", name="loose dataset")
    with pytest.raises(omero.SecurityViolation, match="Deleting .* not allowed"):
        ben.getUpdateService().deleteObject(omero.model.DatasetI(dataset, False))
    ann.getUpdateService().deleteObject(omero.model.DatasetI(dataset, False))
    assert server.ids("Dataset", name="loose dataset") == []


def test_seeding_through_the_api_makes_what_the_users_file_makes(start_omero_server):
    from omero_standin.seeding import seed_via_api

    spec = {"projects": [USERS["data"]["projects"][0]], "plates": USERS["data"]["plates"]}
    declared = start_omero_server({**USERS, "data": spec}, ws=False, wss=False)
    empty = start_omero_server({k: v for k, v in USERS.items() if k != "data"}, ws=False, wss=False)
    made = seed_via_api(empty, spec)
    assert {(m["kind"], m["id"]) for m in made if m["kind"] in ("Project", "Dataset", "Image", "Plate")} == {
        (o["kind"], o["id"]) for o in declared.data() if o["kind"] in ("Project", "Dataset", "Image", "Plate")}

    def shape(server):
        return sorted((o["kind"], o["id"], o.get("name"), o["owner"], o["group"]) for o in server.data())

    assert shape(empty) == shape(declared)
