from flask import redirect

from app.console import bp


@bp.get("/login")
def login():
    return "login"


@bp.get("/interviews")
def interviews():
    return redirect("/console/login")
