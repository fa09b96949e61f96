#pragma once
// Property binding between view models and widgets (ITK-SNAP's property models and widget
// couplings are the example): a view model's value is seen through a PropertyModel (getter,
// setter, optional "enabled" rule), and couple() ties one widget to it both ways:
//  * model -> widget: whenever the model emits its change signal, the widget shows get() (under a
//    signal blocker, so showing a value never writes it back) and follows enabled();
//  * widget -> model: a user change calls set() once.
// This replaces the hand-written "sync controls" methods that copied every value into every
// widget after every change. Widgets only; the view models stay free of widget code.
//
//   couple(m_brushSizeSpin, PropertyModel<double>{ [=] { return edit->brushRadiusMm(); },
//                                                  [=](double v) { edit->setBrushRadiusMm(v); } },
//          edit, &EditController::settingsChanged);
#include <QAbstractButton>
#include <QAbstractSlider>
#include <QAction>
#include <QActionGroup>
#include <QComboBox>
#include <QMenu>
#include <QDoubleSpinBox>
#include <QObject>
#include <QSignalBlocker>
#include <QSpinBox>

#include <QStringList>

#include <functional>
#include <utility>

namespace panseg::ui
{
template <class T>
struct PropertyModel
{
  std::function<T()> get;
  std::function<void(const T&)> set;
  /// Whether the widget is enabled (empty: always).
  std::function<bool()> enabled = {};
};

namespace detail
{
/// Couples `w` to `p`: `changed` (the widget's user-change signal) calls set(); `show` (the
/// widget's setter) shows get() now and whenever `sender` emits `signal`, under a signal blocker.
template <class Widget, class T, class Changed, class Show, class Sender, class Signal>
void coupleWidget(Widget* w, PropertyModel<T> p, Changed changed, Show show, Sender* sender, Signal signal)
{
  QObject::connect(w, changed, w, [set = p.set](T v) { set(v); });
  auto update = [w, p, show]
  {
    const QSignalBlocker block(w);
    (w->*show)(p.get());
    if (p.enabled)
      w->setEnabled(p.enabled());
  };
  QObject::connect(sender, signal, w, update);
  update();
}
} // namespace detail

/// A double spin box showing and editing a double property.
template <class Sender, class Signal>
void couple(QDoubleSpinBox* w, PropertyModel<double> p, Sender* sender, Signal signal)
{
  detail::coupleWidget(w, std::move(p), &QDoubleSpinBox::valueChanged, &QDoubleSpinBox::setValue, sender, signal);
}

/// A spin box showing and editing an int property.
template <class Sender, class Signal>
void couple(QSpinBox* w, PropertyModel<int> p, Sender* sender, Signal signal)
{
  detail::coupleWidget(w, std::move(p), &QSpinBox::valueChanged, &QSpinBox::setValue, sender, signal);
}

/// A slider (or dial) showing and editing an int property.
template <class Sender, class Signal>
void couple(QAbstractSlider* w, PropertyModel<int> p, Sender* sender, Signal signal)
{
  detail::coupleWidget(w, std::move(p), &QAbstractSlider::valueChanged, &QAbstractSlider::setValue, sender, signal);
}

/// A checkable action (menu item, tool button) showing and editing a bool property.
template <class Sender, class Signal>
void couple(QAction* a, PropertyModel<bool> p, Sender* sender, Signal signal)
{
  a->setCheckable(true);
  detail::coupleWidget(a, std::move(p), &QAction::toggled, &QAction::setChecked, sender, signal);
}

/// A check box or other checkable button showing and editing a bool property.
template <class Sender, class Signal>
void couple(QAbstractButton* b, PropertyModel<bool> p, Sender* sender, Signal signal)
{
  b->setCheckable(true);
  detail::coupleWidget(b, std::move(p), &QAbstractButton::toggled, &QAbstractButton::setChecked, sender, signal);
}

/// An exclusive group of checkable actions choosing one value: each action's data() is its value
/// (an int, e.g. an enum). The action whose value get() returns is checked; triggering one calls
/// set(value); the enabled rule applies to the whole group.
template <class Sender, class Signal>
void couple(QActionGroup* g, PropertyModel<int> p, Sender* sender, Signal signal)
{
  QObject::connect(g, &QActionGroup::triggered, g, [set = p.set](QAction* a) { set(a->data().toInt()); });
  auto update = [g, p]
  {
    const int value = p.get();
    for (QAction* a : g->actions())
    {
      const QSignalBlocker block(a);
      a->setChecked(a->data().toInt() == value);
    }
    if (p.enabled)
      g->setEnabled(p.enabled());
  };
  QObject::connect(sender, signal, g, update);
  update();
}

/// A combo box choosing one of a list the model may change (e.g. the window presets of the
/// image's modality): options() gives the items, get() the current one (shown even when it is
/// not an option, as an extra last item, e.g. "Custom W 400 L 40"), activating an item calls
/// set(text). The items are rebuilt only when options() changed.
template <class Sender, class Signal>
void couple(QComboBox* w, PropertyModel<QString> p, std::function<QStringList()> options, Sender* sender,
            Signal signal)
{
  QObject::connect(w, &QComboBox::textActivated, w, [set = p.set](const QString& text) { set(text); });
  auto update = [w, p, options]
  {
    const QSignalBlocker block(w);
    QStringList items = options();
    const QString current = p.get();
    if (!current.isEmpty() && !items.contains(current))
      items << current;
    QStringList shown;
    for (int i = 0; i < w->count(); ++i)
      shown << w->itemText(i);
    if (shown != items)
    {
      w->clear();
      w->addItems(items);
    }
    w->setCurrentIndex(items.indexOf(current));
    if (p.enabled)
      w->setEnabled(p.enabled());
  };
  QObject::connect(sender, signal, w, update);
  update();
}

/// A menu section of checkable actions, one per option (rebuilt, in `group`, only when options()
/// changed; `decorate(action, index)` adds shortcuts and names), the one get() returns checked,
/// triggering one calls set(text).
template <class Sender, class Signal>
void couple(QMenu* menu, QActionGroup* group, PropertyModel<QString> p, std::function<QStringList()> options,
            std::function<void(QAction*, int)> decorate, Sender* sender, Signal signal)
{
  QObject::connect(group, &QActionGroup::triggered, group, [set = p.set](QAction* a) { set(a->text()); });
  auto update = [menu, group, p, options, decorate]
  {
    const QStringList items = options();
    QStringList shown;
    for (QAction* a : group->actions())
      shown << a->text();
    if (shown != items)
    {
      for (QAction* a : group->actions())
      {
        group->removeAction(a);
        delete a;
      }
      for (int i = 0; i < items.size(); ++i)
      {
        QAction* a = menu->addAction(items[i]);
        a->setCheckable(true);
        group->addAction(a);
        if (decorate)
          decorate(a, i);
      }
    }
    const QString current = p.get();
    for (QAction* a : group->actions())
    {
      const QSignalBlocker block(a);
      a->setChecked(a->text() == current);
    }
  };
  QObject::connect(sender, signal, group, update);
  update();
}

/// An action that is only enabled while `enabled()` holds (re-evaluated when `sender` emits).
template <class Sender, class Signal>
void coupleEnabled(QAction* a, std::function<bool()> enabled, Sender* sender, Signal signal)
{
  auto update = [a, enabled] { a->setEnabled(enabled()); };
  QObject::connect(sender, signal, a, update);
  update();
}
} // namespace panseg::ui
