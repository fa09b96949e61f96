#include "database/server/ChangeListener.h"

#include "database/server/Connection.h"

#include <QSqlDatabase>
#include <QSqlDriver>
#include <QSqlQuery>
#include <QTimer>
#include <QUrl>
#include <QUrlQuery>
#include <QUuid>

namespace panseg::db
{
struct ChangeListener::Impl
{
  std::string location;
  StudyDatabase::OpenOptions options;
  QString connectionName;
  QTimer* timer = nullptr;
  bool listening = false;
  const QSqlDriver* connectedDriver = nullptr;

  ~Impl()
  {
    if (!connectionName.isEmpty())
    {
      {
        QSqlDatabase db = QSqlDatabase::database(connectionName, false);
        db.close();
      }
      QSqlDatabase::removeDatabase(connectionName);
    }
  }
};

ChangeListener::ChangeListener(const std::string& location, const StudyDatabase::OpenOptions& options,
                               QObject* parent, int retryMs)
    : QObject(parent), d(std::make_unique<Impl>())
{
  d->location = location;
  d->options = options;
  if (!SqlDialect::isServerLocation(location))
    return;
  d->timer = new QTimer(this);
  d->timer->setInterval(retryMs);
  connect(d->timer, &QTimer::timeout, this, &ChangeListener::check);
  d->timer->start();
  check();
}

ChangeListener::~ChangeListener() = default;

bool ChangeListener::listening() const { return d->listening; }

bool ChangeListener::connectAndListen()
{
  if (d->connectionName.isEmpty())
  {
    d->connectionName = "panseg-listen-" + QUuid::createUuid().toString(QUuid::WithoutBraces);
    QSqlDatabase db = QSqlDatabase::addDatabase("QPSQL", d->connectionName);
    try
    {
      const QUrl url(QString::fromStdString(d->location));
      configureServerConnection(db, url, d->options.password, "connect_timeout=3",
                                url.toString(QUrl::RemovePassword).toStdString());
    }
    catch (const std::exception&)
    {
      return false; // the study database's own connection has said what is wrong with the URI
    }
  }
  QSqlDatabase db = QSqlDatabase::database(d->connectionName, false);
  if (db.isOpen())
    db.close();
  if (!db.open())
    return false;
  if (d->connectedDriver != db.driver())
  {
    d->connectedDriver = db.driver();
    connect(db.driver(), &QSqlDriver::notification, this,
            [this](const QString& name, QSqlDriver::NotificationSource, const QVariant& payload) {
              if (name == "panseg_changes")
                emit changed(payload.toString());
            });
  }
  return db.driver()->subscribeToNotification("panseg_changes");
}

void ChangeListener::check()
{
  bool alive = false;
  if (!d->connectionName.isEmpty())
  {
    QSqlDatabase db = QSqlDatabase::database(d->connectionName, false);
    if (db.isOpen())
    {
      QSqlQuery q(db);
      alive = q.exec("SELECT 1");
    }
  }
  if (!alive)
  {
    const bool was = d->listening;
    d->listening = connectAndListen();
    if (d->listening)
      emit changed("reconnected"); // anything may have changed while the server was away
    if (was != d->listening)
      emit listeningChanged(d->listening);
  }
}
} // namespace panseg::db
