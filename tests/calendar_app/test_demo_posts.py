from calendar_app.demo import demo_posts_load
from calendar_app.models import Post, TargetState


def test_demo_posts_are_created_once_and_scheduled_or_drafted(brand, account, manager):
    created = demo_posts_load(brands=[brand], by=manager)
    assert created == 5
    assert demo_posts_load(brands=[brand], by=manager) == 0
    assert Post.objects.filter(brand=brand).count() == 5
    draft = Post.objects.get(title="Holiday campaign (draft)")
    assert draft.targets.get().state == TargetState.DRAFT
    welcome = Post.objects.get(title="Welcome to the demo")
    assert welcome.targets.get().state == TargetState.SCHEDULED
