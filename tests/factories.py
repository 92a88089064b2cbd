import factory
from django.contrib.auth import get_user_model

from agency.models import Agency, Brand, ClientAccess, Membership, Platform, Role, SocialAccount

DEFAULT_PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    first_name = factory.Faker("first_name")
    password = factory.PostGenerationMethodCall("set_password", DEFAULT_PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class AgencyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agency

    name = factory.Sequence(lambda n: f"Agency {n}")
    slug = factory.Sequence(lambda n: f"agency-{n}")


class BrandFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Brand

    agency = factory.SubFactory(AgencyFactory)
    name = factory.Sequence(lambda n: f"Brand {n}")
    slug = factory.Sequence(lambda n: f"brand-{n}")
    time_zone = "Europe/Berlin"
    website = "https://brand.example.com"
    contact_email = "hello@brand.example.com"


class SocialAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SocialAccount

    brand = factory.SubFactory(BrandFactory)
    platform = Platform.SANDBOX
    handle = factory.Sequence(lambda n: f"@account{n}")
    external_id = factory.Sequence(lambda n: f"ext-{n}")
    display_name = factory.LazyAttribute(lambda a: a.brand.name)
    access_token = factory.Sequence(lambda n: f"secret-access-token-{n}-do-not-leak")
    refresh_token = factory.Sequence(lambda n: f"secret-refresh-token-{n}-do-not-leak")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    agency = factory.SubFactory(AgencyFactory)
    role = Role.MANAGER


class ClientAccessFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ClientAccess

    user = factory.SubFactory(UserFactory)
    brand = factory.SubFactory(BrandFactory)


class PostFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "calendar_app.Post"

    brand = factory.SubFactory(BrandFactory)
    title = factory.Sequence(lambda n: f"Post {n}")
    text = factory.Sequence(lambda n: f"Fresh roast number {n} is out today.")
    approval_state = "approved"


class PostTargetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "calendar_app.PostTarget"

    post = factory.SubFactory(PostFactory)
    account = factory.LazyAttribute(lambda t: SocialAccountFactory(brand=t.post.brand))
