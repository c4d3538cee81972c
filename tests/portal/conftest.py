"""Fixtures for the portal tests: a small two-service project and the demo copy."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO.parent / "shared" / "corpus"

AUTH_SPEC = """
openapi: 3.1.0
info: {title: Auth, version: 1.0.0}
paths:
  /api/v1/auth/login:
    post:
      operationId: login
      summary: Log in with email and password
      tags: [auth]
      security: []
      x-rate-limit: {limit: 5, window: 60, per: ip}
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [email, password]
              properties:
                email: {type: string, format: email}
                password: {type: string, minLength: 8}
            example: {email: ada@example.com, password: correct-horse}
      responses:
        '200':
          description: Tokens.
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Tokens'}
              example: {accessToken: eyJ.a.b, refreshToken: r1, expiresIn: 900}
        '401':
          description: Wrong credentials.
          x-error-codes: {INVALID_CREDENTIALS: The email or password is wrong.}
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Error'}
  /api/v1/auth/refresh:
    post:
      operationId: refreshTokens
      summary: Refresh the access token
      tags: [auth]
      security: []
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [refreshToken]
              properties:
                refreshToken: {type: string}
      responses:
        '200':
          description: New tokens.
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Tokens'}
components:
  securitySchemes:
    bearerAuth: {type: http, scheme: bearer, bearerFormat: JWT}
  schemas:
    Tokens:
      type: object
      required: [accessToken, refreshToken, expiresIn]
      properties:
        accessToken: {type: string}
        refreshToken: {type: string}
        expiresIn: {type: integer, minimum: 1}
    Error:
      type: object
      required: [success, error]
      properties:
        success: {type: boolean, enum: [false]}
        error:
          type: object
          required: [code, message, requestId]
          properties:
            code: {type: string, pattern: '^[A-Z][A-Z0-9_]*$'}
            message: {type: string}
            details:
              type: array
              items:
                type: object
                required: [field, code, message]
                properties:
                  field: {type: string}
                  code: {type: string}
                  message: {type: string}
            requestId: {type: string}
"""

SHOP_SPEC = """
openapi: 3.1.0
info: {title: Shop, version: 1.0.0}
security: [{bearerAuth: []}]
tags:
  - {name: pets, description: Pets for sale.}
  - {name: categories, description: The category tree.}
paths:
  /api/v1/pets:
    get:
      operationId: listPets
      summary: List pets in the shop
      tags: [pets]
      parameters:
        - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 100, default: 20}}
        - name: cursor
          in: query
          description: Opaque cursor | from `meta`.
          schema: {type: string}
      responses:
        '200':
          description: A page of pets.
          content:
            application/json:
              schema:
                type: object
                required: [success, data]
                properties:
                  success: {type: boolean}
                  data: {type: array, items: {$ref: '#/components/schemas/Pet'}}
    post:
      operationId: createPet
      summary: Create a pet
      description: Adds a pet. <img src="https://example.com/x.png"> ![logo](https://example.com/logo.png)
      tags: [pets]
      x-roles: [admin]
      x-rate-limit: {limit: 10, window: 60, per: user, tiers: {free: 2, pro: 20}}
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: '#/components/schemas/Pet'}
      responses:
        '201':
          description: Created.
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Pet'}
        '409':
          description: Duplicate.
          x-error-codes: {PET_EXISTS: A pet with this name exists.}
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Error'}
  /api/v1/pets/{petId}:
    get:
      operationId: getPet
      summary: Get one pet
      tags: [pets]
      deprecated: true
      parameters:
        - name: petId
          in: path
          required: true
          schema: {type: string, format: uuid}
          example: 3fa85f64-5717-4562-b3fc-2c963f66afa6
      responses:
        '200':
          description: The pet.
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Pet'}
              example:
                id: 3fa85f64-5717-4562-b3fc-2c963f66afa6
                name: Rex
                kind: {petType: dog, barks: true}
        '404':
          description: No such pet.
          x-error-codes: {PET_NOT_FOUND: No pet has this id.}
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Error'}
  /api/v1/categories/{categoryId}:
    get:
      operationId: getCategory
      summary: Get a category with its parents
      tags: [categories]
      parameters:
        - {name: categoryId, in: path, required: true, schema: {type: integer}}
      responses:
        '200':
          description: The category.
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Category'}
components:
  securitySchemes:
    bearerAuth: {type: http, scheme: bearer, bearerFormat: JWT}
  schemas:
    Pet:
      type: object
      required: [name, kind]
      properties:
        id: {type: string, format: uuid, readOnly: true}
        name: {type: string, minLength: 1, maxLength: 40}
        kind:
          oneOf:
            - {$ref: '#/components/schemas/Dog'}
            - {$ref: '#/components/schemas/Cat'}
          discriminator:
            propertyName: petType
            mapping: {dog: '#/components/schemas/Dog', cat: '#/components/schemas/Cat'}
        category: {$ref: '#/components/schemas/Category'}
    Dog:
      type: object
      required: [petType]
      properties:
        petType: {type: string, const: dog}
        barks: {type: boolean}
    Cat:
      type: object
      required: [petType]
      properties:
        petType: {type: string, const: cat}
        lives: {type: integer, minimum: 0, maximum: 9}
    Category:
      type: object
      required: [id, name]
      properties:
        id: {type: integer}
        name: {type: string}
        parent: {$ref: '#/components/schemas/Category'}
    Error:
      type: object
      required: [success, error]
      properties:
        success: {type: boolean, enum: [false]}
        error:
          type: object
          required: [code, message, requestId]
          properties:
            code: {type: string, pattern: '^[A-Z][A-Z0-9_]*$'}
            message: {type: string}
            details:
              type: array
              items:
                type: object
                required: [field, code, message]
                properties:
                  field: {type: string}
                  code: {type: string}
                  message: {type: string}
            requestId: {type: string}
"""

CONFIG = """
info: {title: Fixture Shop API, version: 2.1.0, description: A tiny platform for portal tests.}
servers: [{url: 'http://127.0.0.1:8080', description: local gateway}]
services:
  auth: {spec: specs/auth.yaml}
  shop: {spec: specs/shop.yaml}
gateway:
  rate_limit:
    default: {window: 60, per: user, tiers: {free: 30, basic: 60, pro: 120, enterprise: 300}}
"""


def make_project(root: Path) -> Path:
    """A two-service project exercising what the portal must render."""
    (root / "specs").mkdir(parents=True, exist_ok=True)
    (root / "specs" / "auth.yaml").write_text(textwrap.dedent(AUTH_SPEC), encoding="utf-8")
    (root / "specs" / "shop.yaml").write_text(textwrap.dedent(SHOP_SPEC), encoding="utf-8")
    (root / "unispec.yaml").write_text(textwrap.dedent(CONFIG), encoding="utf-8")
    return root


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "proj")


def copy_demo(dest: Path) -> Path:
    """The repository's demo project (specs + config + generated) in a scratch folder."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO / "unispec.yaml", dest / "unispec.yaml")
    shutil.copytree(REPO / "specs", dest / "specs")
    if (REPO / "generated").is_dir():
        shutil.copytree(REPO / "generated", dest / "generated")
    return dest


@pytest.fixture(scope="module")
def demo_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo project copied to a scratch folder, with its portal built."""
    from unispec.build import load_unified
    from unispec.portal.site import build_site

    root = copy_demo(tmp_path_factory.mktemp("demo") / "proj")
    build_site(load_unified(root), root)
    return root
