// Issue 14: property binding (ui/PropertyBinding.h) — a widget coupled to a view-model value
// shows it, follows its changes without writing them back, writes a user's change once, and
// follows the "enabled" rule; and the main window's overlay and brush controls are coupled so.
#include "SyntheticData.h"

#include "ui/EditController.h"
#include "ui/MainWindow.h"
#include "ui/PropertyBinding.h"
#include "ui/ViewerModel.h"

#include <QAction>
#include <QActionGroup>
#include <QCheckBox>
#include <QComboBox>
#include <QMenu>
#include <QToolBar>
#include <QDoubleSpinBox>
#include <QSlider>
#include <QSpinBox>
#include <QApplication>
#include <QTemporaryDir>
#include <QtTest>

using namespace panseg;
using namespace panseg::ui;

/// A view model with a few values and one change signal, as EditController or ViewerModel have.
class Settings : public QObject
{
  Q_OBJECT
public:
  double radius = 2.5;
  int label = 1;
  bool on = false;
  int writes = 0; // set calls
  void setRadius(double r)
  {
    ++writes;
    if (r == radius)
      return;
    radius = r;
    emit changed();
  }
  void setLabel(int l)
  {
    ++writes;
    label = std::clamp(l, 1, 3); // the model may refuse part of a value
    emit changed();
  }
  void setOn(bool b)
  {
    ++writes;
    on = b;
    emit changed();
  }
signals:
  void changed();
};

class TestPropertyBinding : public QObject
{
  Q_OBJECT
private slots:
  void widgetsFollowTheModelAndWriteOnce()
  {
    Settings s;
    QDoubleSpinBox radius;
    radius.setRange(0, 100);
    QSpinBox label;
    label.setRange(0, 10);
    QCheckBox on;
    QSlider slider;
    slider.setRange(0, 100);
    couple(&radius, PropertyModel<double>{ [&] { return s.radius; }, [&](double v) { s.setRadius(v); } }, &s,
           &Settings::changed);
    couple(&label, PropertyModel<int>{ [&] { return s.label; }, [&](int v) { s.setLabel(v); } }, &s, &Settings::changed);
    couple(static_cast<QAbstractButton*>(&on),
           PropertyModel<bool>{ [&] { return s.on; }, [&](bool b) { s.setOn(b); } }, &s, &Settings::changed);
    couple(&slider,
           PropertyModel<int>{ [&] { return static_cast<int>(s.radius * 10); },
                               [&](int v) { s.setRadius(v / 10.0); }, [&] { return s.on; } },
           &s, &Settings::changed);
    // Shown at once, nothing written.
    QCOMPARE(radius.value(), 2.5);
    QCOMPARE(label.value(), 1);
    QVERIFY(!on.isChecked());
    QCOMPARE(slider.value(), 25);
    QVERIFY(!slider.isEnabled()); // the enabled rule
    QCOMPARE(s.writes, 0);

    // The model changes: every widget follows, and none writes the value back.
    s.radius = 4.0;
    s.on = true;
    emit s.changed();
    QCOMPARE(radius.value(), 4.0);
    QCOMPARE(slider.value(), 40);
    QVERIFY(on.isChecked());
    QVERIFY(slider.isEnabled());
    QCOMPARE(s.writes, 0);

    // The user changes a widget: one write, and the other widgets of the same value follow.
    radius.setValue(6.0);
    QCOMPARE(s.writes, 1);
    QCOMPARE(s.radius, 6.0);
    QCOMPARE(slider.value(), 60);
    // The model refuses part of a value: the widget shows what the model kept.
    label.setValue(7);
    QCOMPARE(s.label, 3);
    QCOMPARE(label.value(), 3);
    QCOMPARE(s.writes, 2);
    on.click();
    QVERIFY(!s.on);
    QVERIFY(!slider.isEnabled());
    QCOMPARE(s.writes, 3);
  }

  void choicesFollowTheModel()
  {
    Settings s;
    // An action group choosing an int (each action's data is its value).
    QActionGroup group(nullptr);
    group.setExclusive(true);
    for (int v : { 1, 2, 3 })
    {
      QAction* a = group.addAction(QString::number(v));
      a->setCheckable(true);
      a->setData(v);
    }
    couple(&group, PropertyModel<int>{ [&] { return s.label; }, [&](int v) { s.setLabel(v); } }, &s, &Settings::changed);
    QVERIFY(group.actions().at(0)->isChecked());
    QCOMPARE(s.writes, 0);
    s.label = 3;
    emit s.changed();
    QVERIFY(group.actions().at(2)->isChecked() && !group.actions().at(0)->isChecked());
    group.actions().at(1)->trigger();
    QCOMPARE(s.label, 2);
    QCOMPARE(s.writes, 1);

    // A combo box over a list the model changes, with a current value outside the list.
    QStringList names{ "Abdomen", "Bone" };
    QString current = "Abdomen";
    int sets = 0;
    QComboBox combo;
    couple(&combo,
           PropertyModel<QString>{ [&] { return current; },
                                   [&](const QString& n)
                                   {
                                     ++sets;
                                     current = n;
                                     emit s.changed();
                                   },
                                   [&] { return s.on; } },
           [&] { return names; }, &s, &Settings::changed);
    QCOMPARE(combo.count(), 2);
    QCOMPARE(combo.currentText(), QString("Abdomen"));
    QVERIFY(!combo.isEnabled());
    current = "Custom W 400 L 40";
    names << "Lung";
    s.on = true;
    emit s.changed();
    QCOMPARE(combo.count(), 4); // the options and the current value after them
    QCOMPARE(combo.currentText(), QString("Custom W 400 L 40"));
    QVERIFY(combo.isEnabled());
    QCOMPARE(sets, 0);
    combo.textActivated("Lung");
    QCOMPARE(current, QString("Lung"));
    QCOMPARE(combo.count(), 3);
    QCOMPARE(sets, 1);

    // A menu section rebuilt from the same kind of list; the decoration adds a shortcut.
    QMenu menu;
    QActionGroup presets(nullptr);
    presets.setExclusive(true);
    couple(&menu, &presets,
           PropertyModel<QString>{ [&] { return current; },
                                   [&](const QString& n)
                                   {
                                     current = n;
                                     emit s.changed();
                                   } },
           [&] { return names; }, [](QAction* a, int i) { a->setShortcut(QKeySequence(Qt::CTRL | static_cast<Qt::Key>(Qt::Key_1 + i))); },
           &s, &Settings::changed);
    QCOMPARE(menu.actions().size(), 3);
    QVERIFY(menu.actions().at(2)->isChecked());
    QCOMPARE(menu.actions().at(1)->shortcut(), QKeySequence(Qt::CTRL | Qt::Key_2));
    names.removeLast();
    current = "Bone";
    emit s.changed();
    QCOMPARE(menu.actions().size(), 2);
    QVERIFY(menu.actions().at(1)->isChecked());
    menu.actions().at(0)->trigger();
    QCOMPARE(current, QString("Abdomen"));

    // An action enabled by a rule.
    QAction act("x", nullptr);
    coupleEnabled(&act, [&] { return s.on; }, &s, &Settings::changed);
    QVERIFY(act.isEnabled());
    s.on = false;
    emit s.changed();
    QVERIFY(!act.isEnabled());
  }

  void mainWindowControlsAreCoupled()
  {
    MainWindow w;
    w.setImage(synthetic::ct());
    ViewerModel* model = w.model();
    auto* opacity = w.findChild<QSlider*>("opacitySlider");
    QVERIFY(opacity);
    // The model's overlay style reaches the slider (and its enabled rule: Fill only)...
    model->setOverlayOpacity(0.3);
    QCOMPARE(opacity->value(), 30);
    model->setOverlayMode(OverlayMode::Outline);
    QVERIFY(!opacity->isEnabled());
    model->setOverlayMode(OverlayMode::Fill);
    QVERIFY(opacity->isEnabled());
    // ... and the slider reaches the model.
    opacity->setValue(80);
    QCOMPARE(model->overlayStyle().opacity, 0.8);

    // The brush radius in the edit toolbar and the editor's value are one.
    auto* brush = w.findChild<QDoubleSpinBox*>("brushRadiusMm");
    QVERIFY(brush);
    QVERIFY(w.editController());
    w.editController()->setBrushRadiusMm(7.5);
    QCOMPARE(brush->value(), 7.5);
    brush->setValue(3.0);
    QCOMPARE(w.editController()->brushRadiusMm(), 3.0);
    auto* brush3D = w.findChild<QAction*>("brush3D");
    QVERIFY(brush3D);
    brush3D->trigger();
    QVERIFY(w.editController()->brush3D());
    w.editController()->setBrush3D(false);
    QVERIFY(!brush3D->isChecked());

    // The tool group (every tool, also those after the ruler), the active label, the threshold.
    EditController* edit = w.editController();
    for (const char* name : { "toolGrowSeeds", "toolBox", "toolRefine", "toolPaint", "toolNavigate" })
    {
      auto* a = w.findChild<QAction*>(name);
      QVERIFY2(a, name);
      a->trigger();
      QCOMPARE(static_cast<int>(edit->tool()), a->data().toInt());
      QVERIFY(a->isChecked());
    }
    edit->setTool(EditController::Tool::Refine);
    QVERIFY(w.findChild<QAction*>("toolRefine")->isChecked());
    QVERIFY(!w.findChild<QAction*>("toolNavigate")->isChecked());
    QVERIFY(!w.findChild<QAction*>("brushLarger")->isEnabled() || edit->isEditingTool());
    edit->setTool(EditController::Tool::Paint);
    QVERIFY(w.findChild<QAction*>("brushLarger")->isEnabled());
    edit->setTool(EditController::Tool::Navigate);
    QVERIFY(!w.findChild<QAction*>("brushLarger")->isEnabled());
    auto* label = w.findChild<QSpinBox*>("activeLabel");
    QVERIFY(label);
    edit->setActiveLabel(4);
    QCOMPARE(label->value(), 4);
    QCOMPARE(w.labelPicker()->currentData().toInt(), 4);
    label->setValue(2);
    QCOMPARE(edit->activeLabel(), 2);
    // Pancreas CT range: the controller's range reaches the spin boxes and the action.
    w.findChild<QAction*>("pancreasRange")->trigger();
    QVERIFY(edit->threshold().enabled);
    const auto spins = w.findChild<QToolBar*>("editToolBar")->findChildren<QDoubleSpinBox*>();
    QStringList values;
    for (QDoubleSpinBox* sp : spins)
      values << QString::number(sp->value());
    QVERIFY2(values.contains("-100") && values.contains("240"), qPrintable(values.join(',')));

    // The window presets: the menu and the combo follow the model, and choose in it.
    auto* combo = w.findChild<QComboBox*>("presetCombo");
    QVERIFY(combo && combo->count() >= 2);
    const QString second = combo->itemText(1);
    model->applyPreset(second);
    QCOMPARE(combo->currentText(), second);
    combo->textActivated(combo->itemText(0));
    QCOMPARE(model->activePresetName(), combo->itemText(0));
    // Segmentation > CPU Speed: the choice is the window's setting and reaches the worker's
    // command line through db::applyCpuSpeed.
    auto* exact = w.findChild<QAction*>("cpuSpeed-exact");
    auto* batch = w.findChild<QAction*>("cpuSpeed-batch");
    auto* bf16 = w.findChild<QAction*>("cpuSpeed-bf16");
    QVERIFY(exact && batch && bf16);
    w.setCpuSpeed(db::CpuSpeed::Exact);
    QVERIFY(exact->isChecked());
    batch->trigger();
    QCOMPARE(w.cpuSpeed(), db::CpuSpeed::BatchMirrors);
    w.setCpuSpeed(db::CpuSpeed::Bf16);
    QVERIFY(bf16->isChecked() && !batch->isChecked());
    db::PredictRequest req;
    req.modelDir = "m";
    req.inputPath = "i.nii.gz";
    req.outputPath = "o.nii.gz";
    db::applyCpuSpeed(req, w.cpuSpeed());
    const QStringList args = db::workerPredictArguments(req);
    QVERIFY2(args.join(' ').endsWith("--batch 8 --bf16"), qPrintable(args.join(' ')));
    db::applyCpuSpeed(req, db::CpuSpeed::Exact);
    QVERIFY(!db::workerPredictArguments(req).contains("--batch"));
    w.setCpuSpeed(db::CpuSpeed::Exact);
  }
};

int main(int argc, char** argv)
{
  QTemporaryDir config; // the CPU speed is a per-user setting: not the developer's own
  qputenv("XDG_CONFIG_HOME", config.path().toLocal8Bit());
  QApplication app(argc, argv);
  TestPropertyBinding t;
  return QTest::qExec(&t, argc, argv);
}
#include "tst_property_binding.moc"
