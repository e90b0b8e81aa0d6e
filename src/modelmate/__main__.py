from modelmate.cli import app

app()
