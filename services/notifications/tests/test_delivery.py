from notifications.domain.delivery import notification_id


def test_one_notification_per_cause_recipient_and_channel():
    first = notification_id("evt-1", "guardian-9", "email")
    assert first == notification_id("evt-1", "guardian-9", "email")
    assert first != notification_id("evt-1", "guardian-9", "inbox")
    assert first != notification_id("evt-1", "learner-3", "email")
    assert first != notification_id("evt-2", "guardian-9", "email")
