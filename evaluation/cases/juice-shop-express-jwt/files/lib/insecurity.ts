import fs from 'fs'
import crypto from 'crypto'
import expressJwt from 'express-jwt'
import jwt from 'jsonwebtoken'

export const publicKey = fs ? fs.readFileSync('encryptionkeys/jwt.pub', 'utf8') : 'placeholder-public-key'
const privateKey = process.env.JWT_PRIVATE_KEY || 'placeholder-private-key'

export const hash = (data: string) => crypto.createHash('md5').update(data).digest('hex')

export const isAuthorized = () => expressJwt(({ secret: publicKey }) as any)
export const denyAll = () => expressJwt({ secret: '' + Math.random() } as any)
export const authorize = (user = {}) => jwt.sign(user, privateKey, { expiresIn: '6h', algorithm: 'RS256' })
