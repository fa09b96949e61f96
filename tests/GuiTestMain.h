#pragma once
// The main() of a GUI test: settings (the remembered model, recent files) and data (recovery
// files, predictions) go to throw-away folders, so no run depends on an earlier one or on the
// user's; then the platform set-up of the workstation and the Qt Test run.
#include "ui/MainWindow.h"

#include <QApplication>
#include <QTemporaryDir>
#include <QtTest>

namespace test
{
template <class TestObject> int runGuiTest(int argc, char** argv)
{
  QTemporaryDir home;
  qputenv("XDG_CONFIG_HOME", (home.path() + "/config").toLocal8Bit());
  qputenv("XDG_DATA_HOME", (home.path() + "/data").toLocal8Bit());
  panseg::ui::MainWindow::configurePlatform();
  QApplication app(argc, argv);
  TestObject t;
  return QTest::qExec(&t, argc, argv);
}
} // namespace test
