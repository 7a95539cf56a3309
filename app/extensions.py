"""Extensions, created bare here and initialised in ``create_app``."""
from flask_appbuilder import Model
from flask_appbuilder.models.sqla.base import SQLA
from flask_mail import Mail
from flask_migrate import Migrate
from flask_socketio import SocketIO
from flask_wtf.csrf import CSRFProtect

db = SQLA(model_class=Model)
migrate = Migrate()
mail = Mail()
socketio = SocketIO()
csrf = CSRFProtect()
