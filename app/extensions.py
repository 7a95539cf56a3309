"""Extensions, created bare here and initialised in ``create_app``."""
from flask_appbuilder import Model
from flask_appbuilder.models.sqla.base import SQLA
from flask_mail import Mail
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect

db = SQLA(model_class=Model)
migrate = Migrate()
mail = Mail()
# Socket.IO: one ``flask_socketio.SocketIO`` per app (``app.realtime.init_app``), not a shared one here:
# Flask-SocketIO's handlers use the server of the instance they were registered on, so a second app in
# one process (the tests, a script) would have answered the first app's clients with its own.
csrf = CSRFProtect()
