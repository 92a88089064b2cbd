import pytest
from django.urls import reverse
from tests.agency.test_views import brand_form_data

@pytest.mark.django_db
def test_dump(login, admin, brand, account):
    c = login(admin)
    r = c.post(reverse("brand-edit", args=[brand.pk]), brand_form_data(brand, primary_color="red", time_zone="x"))
    open("/tmp/edit.html","wb").write(r.content)
    r = c.post(reverse("account-create", args=[brand.pk]), {"platform":"sandbox","handle":account.handle})
    open("/tmp/acc.html","wb").write(r.content)
    r = c.get(reverse("brand-detail", args=[brand.pk]))
    open("/tmp/detail.html","wb").write(r.content)
